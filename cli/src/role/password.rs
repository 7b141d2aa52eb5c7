//! The password of `pum role create-login` and `create-readonly`: from an environment
//! variable, or asked twice on the terminal. Never from the command line.

use std::io::IsTerminal;

use super::RoleArgs;

/// The password of `create-login`: from the variable, the terminal, or none.
pub(super) fn password(args: &RoleArgs) -> pum::Result<Option<String>> {
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
