//! `pum role list` as text: the configured roles with ✓/✗ per schema, then the roles
//! granted them, other roles with access, other login roles.

use pum::internal::printable;
use pum::roles::{Inventory, RoleStatus, SchemaAccess};

/// Colours when `crate::style::escapes` allows them, plain text elsewhere.
struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn ok(&self) -> String {
        self.paint("32", "✓")
    }

    fn bad(&self) -> String {
        self.paint("31", "✗")
    }

    /// `[suffixed] [login] [superuser]`, as they apply, after two spaces.
    fn badges(&self, role: &RoleStatus) -> String {
        let mut badges = Vec::new();
        if !role.suffix.is_empty() {
            badges.push(self.paint("90", "[suffixed]"));
        }
        if role.login {
            badges.push(self.paint("90", "[login]"));
        }
        if role.superuser {
            badges.push(self.paint("31", "[superuser]"));
        }
        if badges.is_empty() {
            String::new()
        } else {
            format!("  {}", badges.join(" "))
        }
    }
}

/// The `list` text, with ✓/✗ (coloured on a terminal).
pub(super) fn render(inventory: &Inventory, color: bool) -> String {
    let paint = Paint { color };
    let mut text = String::new();
    for role in inventory.configured() {
        configured(&paint, role, &mut text);
    }
    if !inventory.missing.is_empty() {
        text.push('\n');
        for name in &inventory.missing {
            text.push_str(&format!(
                "  {} {}  (missing)\n",
                paint.bad(),
                printable(name)
            ));
        }
    }
    others(&paint, inventory, &mut text);
    text
}

/// One configured role: its mark, badges, memberships and schemas.
fn configured(paint: &Paint, role: &RoleStatus, text: &mut String) {
    let mark = if role.satisfied() {
        paint.ok()
    } else {
        paint.bad()
    };
    text.push_str(&format!(
        "  {mark} {}{}\n",
        printable(&role.name),
        paint.badges(role)
    ));
    if !role.member_of.is_empty() {
        text.push_str(&format!(
            "      {}\n",
            paint.paint(
                "90",
                &format!("member of: {}", printable(&role.member_of.join(", ")))
            )
        ));
    }
    for schema in &role.schemas {
        text.push_str(&schema_line(paint, schema));
    }
}

/// `✓ schema  (read, write)` or `✗ schema  (expected: write, actual: read)`.
fn schema_line(paint: &Paint, schema: &SchemaAccess) -> String {
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
        return format!(
            "      {} {}  ({actual}{missing})\n",
            paint.ok(),
            printable(&schema.schema)
        );
    }
    let expected = match schema.expected {
        Some(pum::config::PermissionType::Read) => "read",
        Some(pum::config::PermissionType::Write) => "write",
        None => "none",
    };
    format!(
        "      {} {}  (expected: {expected}, actual: {actual}{missing})\n",
        paint.bad(),
        printable(&schema.schema)
    )
}

/// The roles outside the configuration: grantees, others with access, other logins.
fn others(paint: &Paint, inventory: &Inventory, text: &mut String) {
    let schemas = |r: &RoleStatus| {
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
            paint.paint("36", "Grantee roles (members of configured roles):")
        ));
        for r in grantees {
            text.push_str(&format!(
                "    → {}{}  ({})\n      member of: {}\n",
                printable(&r.name),
                paint.badges(r),
                printable(&schemas(r)),
                printable(&r.member_of.join(", "))
            ));
        }
    }
    let others: Vec<_> = inventory.others().collect();
    if !others.is_empty() {
        text.push_str(&format!(
            "\n  {}\n",
            paint.paint("33", "Other roles with schema access:")
        ));
        for r in others {
            text.push_str(&format!(
                "    ? {}{}  ({})\n",
                printable(&r.name),
                paint.badges(r),
                printable(&schemas(r))
            ));
        }
    }
    if !inventory.other_logins.is_empty() {
        text.push_str(&format!(
            "\n  {}\n",
            paint.paint("33", "Other login roles (no schema access):")
        ));
        for name in &inventory.other_logins {
            text.push_str(&format!("    - {}\n", printable(name)));
        }
    }
}
