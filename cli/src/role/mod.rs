//! `pum role ACTION`: the roles `.pum.yaml` declares, and login roles, as Python pum 1.9's
//! `pum role` has them (the options may come before or after the action).

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use pum::ConnectionSpec;
use pum::internal::printable;
use pum::roles::{self, RoleManager, RoleSelection};

mod list;
mod password;

use super::Output;
use super::migrate::Project;
use list::render;
use password::password;

/// `pum role`.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// What to do.
    #[arg(value_enum)]
    pub action: RoleAction,
    /// `create-readonly`: the user to make; `drop`: one role to drop (instead of the
    /// configured ones).
    #[arg(value_name = "ROLE")]
    pub target: Option<String>,
    /// `create-readonly`: a schema the user may read (repeatable; default: every schema).
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
    /// `create-readonly`: the NOLOGIN group holding the privileges (default: <USER>_ro).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// `drop ROLE`: give what the role owns to this role instead of dropping it.
    #[arg(long, value_name = "ROLE")]
    pub reassign_to: Option<String>,
    /// Act on the database-specific roles `<role>_<SUFFIX>` (`create` makes them beside
    /// the generic ones).
    #[arg(long, value_name = "SUFFIX")]
    pub suffix: Option<String>,
    /// Only these configured roles (default: all).
    #[arg(long, num_args = 1.., value_name = "ROLE")]
    pub roles: Option<Vec<String>>,
    /// `grant`: make this database user a member of the roles (instead of granting the
    /// roles their permissions).
    #[arg(long = "to", value_name = "USER")]
    pub to: Option<String>,
    /// `revoke`: take this user's membership away (instead of the roles' permissions).
    #[arg(long = "from", value_name = "USER")]
    pub from: Option<String>,
    /// `create-login`, `drop-login`: the login role's name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// `drop`: reassign what the roles own to the current user and drop their remaining
    /// privileges first.
    #[arg(long)]
    pub force: bool,
    /// `list`: show superusers too.
    #[arg(long)]
    pub include_superusers: bool,
    /// `create-login`: read the password from this environment variable.
    #[arg(long, value_name = "VARIABLE", conflicts_with = "password")]
    pub password_env: Option<String>,
    /// `create-login`: ask for the password on the terminal.
    #[arg(long)]
    pub password: bool,
    /// `list`: output format.
    #[arg(short, long, value_enum, default_value_t = crate::migrate::Format::Text)]
    pub format: crate::migrate::Format,
}

/// The actions of `pum role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleAction {
    /// Create the configured roles (and grant their permissions).
    Create,
    /// Create a login role (--name; a password with --password-env or --password).
    CreateLogin,
    /// Create or update a read-only user: USER, in a NOLOGIN group that may read --schema
    /// (a password with --password-env or --password).
    CreateReadonly,
    /// Revoke, then drop the configured roles; or drop ROLE (what it owns dropped, or
    /// given to --reassign-to).
    Drop,
    /// Drop a login role (--name).
    DropLogin,
    /// Grant the roles their permissions, or with --to make a user a member.
    Grant,
    /// Revoke the roles' permissions, or with --from a user's membership.
    Revoke,
    /// Show the roles concerning the configured schemas and what they may do.
    List,
    /// Show the login roles that are not superusers.
    LoginRoles,
    /// Show the login members of one role (--roles ROLE).
    Members,
}

/// Runs `pum role ACTION`: the actions on login roles and read-only users need no
/// configuration; the others act on the roles `.pum.yaml` declares.
pub fn run(
    spec: &ConnectionSpec,
    project: &Project,
    args: RoleArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    if args.target.is_some()
        && !matches!(args.action, RoleAction::CreateReadonly | RoleAction::Drop)
    {
        return Err(usage(&args, "it takes no role name (see pum role --help)"));
    }
    match args.action {
        RoleAction::CreateReadonly => create_readonly(spec, &args, out)?,
        RoleAction::Drop if args.target.is_some() => drop_one(spec, &args, out)?,
        RoleAction::CreateLogin => create_login(spec, &args, out)?,
        RoleAction::DropLogin => drop_login(spec, &args, out)?,
        RoleAction::LoginRoles => {
            for name in roles::login_roles(spec)? {
                println!("  {}", printable(&name));
            }
        }
        RoleAction::Members => members(spec, &args, out)?,
        RoleAction::Create
        | RoleAction::Drop
        | RoleAction::Grant
        | RoleAction::Revoke
        | RoleAction::List => configured(spec, project, &args, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The refusal of a command line `pum role` cannot run.
fn usage(args: &RoleArgs, message: &str) -> pum::Error {
    pum::Error::Refused {
        operation: format!("pum role {}", action_name(args.action)),
        reason: message.to_string(),
    }
}

/// `--name NAME`, required.
fn login_name(args: &RoleArgs) -> pum::Result<&str> {
    args.name
        .as_deref()
        .ok_or_else(|| usage(args, "--name NAME is required"))
}

/// `create-readonly USER`.
fn create_readonly(spec: &ConnectionSpec, args: &RoleArgs, out: Output) -> pum::Result<()> {
    let user = args
        .target
        .as_deref()
        .ok_or_else(|| usage(args, "give the user to make: pum role create-readonly USER"))?;
    let password = password(args)?.ok_or_else(|| {
        usage(
            args,
            "a read-only user needs a password: --password-env VARIABLE or --password",
        )
    })?;
    let made = roles::create_readonly(spec, user, &password, &args.schemas, args.group.as_deref())?;
    out.info(format!(
        "{} read-only user {} in group {} (reads {})",
        if made.updated { "updated" } else { "created" },
        printable(user),
        printable(&made.group),
        if made.schemas.is_empty() {
            "no schema".to_string()
        } else {
            printable(&made.schemas.join(", ")).to_string()
        }
    ));
    Ok(())
}

/// `drop ROLE [--reassign-to ROLE]`.
fn drop_one(spec: &ConnectionSpec, args: &RoleArgs, out: Output) -> pum::Result<()> {
    let role = args.target.as_deref().unwrap_or_default();
    if !roles::drop_role(spec, role, args.reassign_to.as_deref())? {
        out.info(format!(
            "role {} does not exist; nothing dropped",
            printable(role)
        ));
        return Ok(());
    }
    out.info(match &args.reassign_to {
        Some(to) => format!(
            "dropped role {} (what it owned is {}'s now)",
            printable(role),
            printable(to)
        ),
        None => format!("dropped role {} and what it owned here", printable(role)),
    });
    Ok(())
}

/// `create-login --name NAME`.
fn create_login(spec: &ConnectionSpec, args: &RoleArgs, out: Output) -> pum::Result<()> {
    let name = login_name(args)?;
    let password = password(args)?;
    roles::create_login(spec, name, password.as_deref())?;
    out.info(format!(
        "created login role {}{}",
        printable(name),
        if password.is_some() {
            " (password sent hashed)"
        } else {
            ""
        }
    ));
    Ok(())
}

/// `drop-login --name NAME`.
fn drop_login(spec: &ConnectionSpec, args: &RoleArgs, out: Output) -> pum::Result<()> {
    let name = login_name(args)?;
    if roles::drop_login(spec, name)? {
        out.info(format!("dropped role {}", printable(name)));
    } else {
        out.info(format!(
            "role {} does not exist; nothing dropped",
            printable(name)
        ));
    }
    Ok(())
}

/// `members --roles ROLE`.
fn members(spec: &ConnectionSpec, args: &RoleArgs, out: Output) -> pum::Result<()> {
    let role = match args.roles.as_deref() {
        Some([role]) => role,
        _ => {
            return Err(usage(
                args,
                "--roles with exactly one role name is required",
            ));
        }
    };
    let members = roles::members_of(spec, role)?;
    if members.is_empty() {
        out.info(format!("no login member of role {}", printable(role)));
    }
    for name in members {
        println!("  {}", printable(&name));
    }
    Ok(())
}

/// `create`, `grant`, `revoke`, `drop` and `list` on the configured roles.
fn configured(
    spec: &ConnectionSpec,
    project: &Project,
    args: &RoleArgs,
    out: Output,
) -> pum::Result<()> {
    let config = project.load()?;
    let manager = RoleManager::new(&config.roles);
    let selection = RoleSelection {
        roles: args.roles.clone(),
        suffix: args.suffix.clone(),
    };
    let names = names(&config, &selection);
    let warnings = match (args.action, &args.to, &args.from) {
        (RoleAction::Create, _, _) => {
            let w = manager.create(spec, args.suffix.as_deref(), true)?;
            out.info(format!("roles created and granted: {names}"));
            w
        }
        (RoleAction::Grant, Some(to), _) => {
            manager.grant_to(spec, to, &selection)?;
            out.info(format!("granted {names} to {}", printable(to)));
            Vec::new()
        }
        (RoleAction::Grant, None, _) => {
            let w = manager.grant(spec, &selection)?;
            out.info(format!("permissions granted to {names}"));
            w
        }
        (RoleAction::Revoke, _, Some(from)) => {
            manager.revoke_from(spec, from, &selection)?;
            out.info(format!("revoked {names} from {}", printable(from)));
            Vec::new()
        }
        (RoleAction::Revoke, _, None) => {
            let w = manager.revoke(spec, &selection)?;
            out.info(format!("permissions revoked from {names}"));
            w
        }
        (RoleAction::Drop, _, _) => {
            let w = manager.drop(spec, &selection, args.force)?;
            out.info(format!("roles dropped: {names}"));
            w
        }
        // `list`: the other actions do not come here.
        _ => {
            let inventory = manager.inventory(spec, args.include_superusers)?;
            match args.format {
                crate::migrate::Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&inventory).unwrap_or_default()
                ),
                crate::migrate::Format::Text => {
                    print!(
                        "{}",
                        render(
                            &inventory,
                            crate::style::escapes(crate::style::Stream::Stdout)
                        )
                    )
                }
            }
            Vec::new()
        }
    };
    for warning in warnings {
        out.warn(warning);
    }
    Ok(())
}

fn action_name(action: RoleAction) -> String {
    action
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// The role names an operation concerns, for its message.
fn names(config: &pum::Config, selection: &RoleSelection) -> String {
    let names: Vec<String> = config
        .roles
        .iter()
        .filter(|r| {
            selection
                .roles
                .as_ref()
                .is_none_or(|names| names.contains(&r.name))
        })
        .map(|r| roles_name(&r.name, selection.suffix.as_deref()))
        .collect();
    if names.is_empty() {
        "none (the configuration declares no roles)".into()
    } else {
        printable(&names.join(", ")).to_string()
    }
}

fn roles_name(name: &str, suffix: Option<&str>) -> String {
    match suffix {
        Some(s) => format!("{name}_{s}"),
        None => name.to_string(),
    }
}
