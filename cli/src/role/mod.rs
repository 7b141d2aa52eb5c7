//! `pum role ACTION`: the roles `.pum.yaml` declares, and login roles, as Python pum 1.9's
//! `pum role` has them (the options may come before or after the action).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use pum::ConnectionSpec;
use pum::roles::{self, Inventory, RoleManager, Selection};
use pum::text::printable;

use super::Output;
use super::migrate::Project;

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
    #[arg(short, long, value_enum, default_value_t = super::migrate::Format::Text)]
    pub format: super::migrate::Format,
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

pub fn run(
    spec: &ConnectionSpec,
    project: &Project,
    args: RoleArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let usage = |message: &str| pum::Error::Refused {
        operation: format!("pum role {}", action_name(args.action)),
        reason: message.to_string(),
    };
    if args.target.is_some()
        && !matches!(args.action, RoleAction::CreateReadonly | RoleAction::Drop)
    {
        return Err(usage("it takes no role name (see pum role --help)"));
    }
    match args.action {
        RoleAction::CreateReadonly => {
            let user = args
                .target
                .as_deref()
                .ok_or_else(|| usage("give the user to make: pum role create-readonly USER"))?;
            let password = password(&args)?.ok_or_else(|| {
                usage("a read-only user needs a password: --password-env VARIABLE or --password")
            })?;
            let made = roles::create_readonly(
                spec,
                user,
                &password,
                &args.schemas,
                args.group.as_deref(),
            )?;
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
            return Ok(ExitCode::SUCCESS);
        }
        RoleAction::Drop if args.target.is_some() => {
            let role = args.target.as_deref().unwrap_or_default();
            if roles::drop_role(spec, role, args.reassign_to.as_deref())? {
                out.info(match &args.reassign_to {
                    Some(to) => format!(
                        "dropped role {} (what it owned is {}'s now)",
                        printable(role),
                        printable(to)
                    ),
                    None => format!("dropped role {} and what it owned here", printable(role)),
                });
            } else {
                out.info(format!(
                    "role {} does not exist; nothing dropped",
                    printable(role)
                ));
            }
            return Ok(ExitCode::SUCCESS);
        }
        RoleAction::CreateLogin => {
            let name = args
                .name
                .as_deref()
                .ok_or_else(|| usage("--name NAME is required"))?;
            let password = password(&args)?;
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
            return Ok(ExitCode::SUCCESS);
        }
        RoleAction::DropLogin => {
            let name = args
                .name
                .as_deref()
                .ok_or_else(|| usage("--name NAME is required"))?;
            if roles::drop_login(spec, name)? {
                out.info(format!("dropped role {}", printable(name)));
            } else {
                out.info(format!(
                    "role {} does not exist; nothing dropped",
                    printable(name)
                ));
            }
            return Ok(ExitCode::SUCCESS);
        }
        RoleAction::LoginRoles => {
            for name in roles::login_roles(spec)? {
                println!("  {}", printable(&name));
            }
            return Ok(ExitCode::SUCCESS);
        }
        RoleAction::Members => {
            let role = match args.roles.as_deref() {
                Some([role]) => role,
                _ => return Err(usage("--roles with exactly one role name is required")),
            };
            let members = roles::members_of(spec, role)?;
            if members.is_empty() {
                out.info(format!("no login member of role {}", printable(role)));
            }
            for name in members {
                println!("  {}", printable(&name));
            }
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let config = project.load()?;
    let manager = RoleManager::new(&config.roles);
    let selection = Selection {
        roles: args.roles.clone(),
        suffix: args.suffix.clone(),
    };
    let warnings = match args.action {
        RoleAction::Create => {
            let w = manager.create(spec, args.suffix.as_deref(), true)?;
            out.info(format!(
                "roles created and granted: {}",
                names(&config, &selection)
            ));
            w
        }
        RoleAction::Grant => match &args.to {
            Some(to) => {
                manager.grant_to(spec, to, &selection)?;
                out.info(format!(
                    "granted {} to {}",
                    names(&config, &selection),
                    printable(to)
                ));
                Vec::new()
            }
            None => {
                let w = manager.grant(spec, &selection)?;
                out.info(format!(
                    "permissions granted to {}",
                    names(&config, &selection)
                ));
                w
            }
        },
        RoleAction::Revoke => match &args.from {
            Some(from) => {
                manager.revoke_from(spec, from, &selection)?;
                out.info(format!(
                    "revoked {} from {}",
                    names(&config, &selection),
                    printable(from)
                ));
                Vec::new()
            }
            None => {
                let w = manager.revoke(spec, &selection)?;
                out.info(format!(
                    "permissions revoked from {}",
                    names(&config, &selection)
                ));
                w
            }
        },
        RoleAction::Drop => {
            let w = manager.drop(spec, &selection, args.force)?;
            out.info(format!("roles dropped: {}", names(&config, &selection)));
            w
        }
        RoleAction::List => {
            let inventory = manager.inventory(spec, args.include_superusers)?;
            match args.format {
                super::migrate::Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&inventory).unwrap_or_default()
                ),
                super::migrate::Format::Text => {
                    print!("{}", render(&inventory, std::io::stdout().is_terminal()))
                }
            }
            Vec::new()
        }
        RoleAction::CreateLogin
        | RoleAction::CreateReadonly
        | RoleAction::DropLogin
        | RoleAction::LoginRoles
        | RoleAction::Members => Vec::new(),
    };
    for warning in warnings {
        out.warn(warning);
    }
    Ok(ExitCode::SUCCESS)
}

fn action_name(action: RoleAction) -> String {
    action
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// The role names an operation concerns, for its message.
fn names(config: &pum::Config, selection: &Selection) -> String {
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

/// The password of `create-login`: from the variable, the terminal, or none.
fn password(args: &RoleArgs) -> pum::Result<Option<String>> {
    if let Some(variable) = &args.password_env {
        return match std::env::var(variable) {
            Ok(value) if !value.is_empty() => Ok(Some(value)),
            Ok(_) => Err(pum::Error::Setting {
                variable: variable.clone(),
                message: "empty: a login needs a password (--password-env names the variable \
                          holding it)"
                    .into(),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(pum::Error::Setting {
                variable: variable.clone(),
                message: "not valid UTF-8".into(),
            }),
            Err(std::env::VarError::NotPresent) => Err(pum::Error::Setting {
                variable: variable.clone(),
                message: "not set (--password-env names the variable holding the password)".into(),
            }),
        };
    }
    if !args.password {
        return Ok(None);
    }
    let term = console::Term::stderr();
    if !std::io::stdin().is_terminal() || !term.is_term() {
        return Err(pum::Error::Refused {
            operation: "ask for a password".into(),
            reason: "there is no terminal to ask on: use --password-env VARIABLE".into(),
        });
    }
    let ask = |prompt: &str| -> pum::Result<String> {
        let _ = term.write_str(prompt);
        term.read_secure_line()
            .map_err(|e| pum::Error::io("the terminal", e))
    };
    let first = ask("Password: ")?;
    let again = ask("Password again: ")?;
    if first != again {
        return Err(pum::Error::Refused {
            operation: "set the password".into(),
            reason: "the two passwords differ".into(),
        });
    }
    if first.is_empty() {
        return Err(pum::Error::Refused {
            operation: "set the password".into(),
            reason: "it is empty".into(),
        });
    }
    Ok(Some(first))
}

/// The `list` text, with ✓/✗ (coloured on a terminal).
fn render(inventory: &Inventory, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let ok = paint("32", "✓");
    let bad = paint("31", "✗");
    let mut text = String::new();
    let badges = |r: &roles::RoleStatus| {
        let mut badges = Vec::new();
        if !r.suffix.is_empty() {
            badges.push(paint("90", "[suffixed]"));
        }
        if r.login {
            badges.push(paint("90", "[login]"));
        }
        if r.superuser {
            badges.push(paint("31", "[superuser]"));
        }
        if badges.is_empty() {
            String::new()
        } else {
            format!("  {}", badges.join(" "))
        }
    };
    for role in inventory.configured() {
        let mark = if role.satisfied() { &ok } else { &bad };
        text.push_str(&format!(
            "  {mark} {}{}\n",
            printable(&role.name),
            badges(role)
        ));
        if !role.member_of.is_empty() {
            text.push_str(&format!(
                "      {}\n",
                paint(
                    "90",
                    &format!("member of: {}", printable(&role.member_of.join(", ")))
                )
            ));
        }
        for schema in &role.schemas {
            let mut actual = Vec::new();
            if schema.read {
                actual.push("read");
            }
            if schema.write {
                actual.push("write");
            }
            let actual = if actual.is_empty() {
                "none".to_string()
            } else {
                actual.join(", ")
            };
            let missing = if schema.exists {
                ""
            } else {
                ", schema missing"
            };
            if schema.satisfied() {
                text.push_str(&format!(
                    "      {ok} {}  ({actual}{missing})\n",
                    printable(&schema.schema)
                ));
            } else {
                let expected = match schema.expected {
                    Some(pum::config::PermissionType::Read) => "read",
                    Some(pum::config::PermissionType::Write) => "write",
                    None => "none",
                };
                text.push_str(&format!(
                    "      {bad} {}  (expected: {expected}, actual: {actual}{missing})\n",
                    printable(&schema.schema)
                ));
            }
        }
    }
    if !inventory.missing.is_empty() {
        text.push('\n');
        for name in &inventory.missing {
            text.push_str(&format!("  {bad} {}  (missing)\n", printable(name)));
        }
    }
    let schemas = |r: &roles::RoleStatus| {
        r.schemas
            .iter()
            .filter(|s| s.read || s.write)
            .map(|s| s.schema.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let grantees: Vec<_> = inventory.grantees().collect();
    if !grantees.is_empty() {
        text.push_str(&format!(
            "\n  {}\n",
            paint("36", "Grantee roles (members of configured roles):")
        ));
        for r in grantees {
            text.push_str(&format!(
                "    → {}{}  ({})\n      member of: {}\n",
                printable(&r.name),
                badges(r),
                printable(&schemas(r)),
                printable(&r.member_of.join(", "))
            ));
        }
    }
    let others: Vec<_> = inventory.others().collect();
    if !others.is_empty() {
        text.push_str(&format!(
            "\n  {}\n",
            paint("33", "Other roles with schema access:")
        ));
        for r in others {
            text.push_str(&format!(
                "    ? {}{}  ({})\n",
                printable(&r.name),
                badges(r),
                printable(&schemas(r))
            ));
        }
    }
    if !inventory.other_logins.is_empty() {
        text.push_str(&format!(
            "\n  {}\n",
            paint("33", "Other login roles (no schema access):")
        ));
        for name in &inventory.other_logins {
            text.push_str(&format!("    - {}\n", printable(name)));
        }
    }
    text
}
