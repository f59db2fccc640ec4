//! Environment decisions: which variables the target may see and set.
//!
//! Reads raise no audit event, so the host removes every variable that is not granted
//! from the process before the target starts; writes (`os.putenv`, `os.environ[k] = v`,
//! `os.unsetenv`) are checked here.

use super::{Capability, Decision, Denial, Engine};
use crate::policy::EnvSpec;

fn spec_matches(spec: &EnvSpec, name: &str) -> bool {
    match spec {
        EnvSpec::Any => true,
        EnvSpec::Name(n) => n == name,
        EnvSpec::Prefix(p) => name.starts_with(p.as_str()),
    }
}

impl Engine {
    /// Is `name` granted (visible to the target, and settable by it)?
    pub fn env_granted(&self, name: &str) -> bool {
        self.policy
            .environment
            .allow
            .iter()
            .any(|r| spec_matches(&r.value, name))
    }

    /// May the target set or unset `name`?
    pub fn env_write(&self, name: &str) -> Decision {
        if name.starts_with("HERMETIC_") {
            return Err(Denial {
                capability: Capability::Env,
                detail: super::shorten(name),
                reason: super::Reason::Never(
                    "hermetic-python's own variables cannot be changed from Python",
                ),
                hint: None,
            });
        }
        if self.env_granted(name) {
            return Ok(());
        }
        Err(Denial {
            capability: Capability::Env,
            detail: super::shorten(name),
            reason: self.not_granted(),
            hint: Some(format!(
                "--allow-env={name} or [environment] allow = [\"{name}\"]"
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Origin, Policy, Rule};

    #[test]
    fn names_and_prefixes() {
        let mut policy = Policy::default();
        policy.environment.allow = vec![
            Rule::new(EnvSpec::Name("AWS_REGION".into()), Origin::Default),
            Rule::new(EnvSpec::Prefix("APP_".into()), Origin::Default),
        ];
        let e = Engine::new(policy);
        let cases = [
            ("AWS_REGION", true),
            ("AWS_REGION2", false),
            ("APP_X", true),
            ("APP", false),
            ("SECRET", false),
        ];
        for (name, ok) in cases {
            assert_eq!(e.env_granted(name), ok, "{name}");
            assert_eq!(e.env_write(name).is_ok(), ok, "{name}");
        }
    }
}
