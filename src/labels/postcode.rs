//! The postcode register decides what text cannot (issue #18): for a Dutch address,
//! PostNL's postal-code check says which reading of the address exists at its postcode,
//! and whether its street belongs there at all.
//!
//! [`decide`] is the rule, pure and tested here; [`Register`] asks PostNL through the
//! run's one PostNL client (so the calls count against PostNL's calls per minute with
//! the label calls) and keeps the answers in the store, keyed by (postcode, number,
//! addition), linked to the order they were asked for and removed with its personal data.
//!
//! The rule:
//! - one reading (a sure split): ask for its postcode and number; when the register
//!   knows that number there but under another street, the order goes to review with
//!   `postcode_mismatch`; when it knows no such number, with `postcode_not_found`;
//! - several readings: each is asked for; a reading exists when the register has its
//!   number at the postcode under a matching street (and its addition, when the reading
//!   has one the register could hold). Exactly one existing reading is labelled. None,
//!   or more than one, is a review (`postcode_mismatch` when the register knows the
//!   numbers but under other streets, `address_check` otherwise); a reading the register
//!   does not know is never labelled;
//! - the register not configured, not reachable or not answering: as before the check,
//!   a sure split is labelled and the others go to review (`address_check`).

use std::cell::{Cell, OnceCell};

use crate::config::Config;
use crate::ctx::Ctx;
use crate::postnl::address::{Confidence, Split};
use crate::postnl::postcode::Registered;
use crate::postnl::{self as pn};

/// What the register made of an address.
#[derive(Debug)]
pub enum Decision {
    /// Label this reading.
    Label(Split),
    /// Review, with this reason code.
    Review(&'static str),
}

/// Letters and digits only, lower case: how streets and additions are compared.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The buyer's street is the register's, or an abbreviation of it (`Molengraaffpl.`).
fn street_matches(register: &str, buyer: &str) -> bool {
    let (r, b) = (fold(register), fold(buyer));
    !b.is_empty() && (r == b || (buyer.trim_end().ends_with('.') && r.starts_with(&b)))
}

/// The addition to ask the register for: the extension when it is one the register could
/// hold (1 to 6 letters and digits, one word), else none.
#[must_use]
pub fn addition_for(ext: &str) -> String {
    let f: String = ext.chars().filter(|c| c.is_alphanumeric()).collect();
    if !ext.contains(' ') && (1..=6).contains(&f.chars().count()) {
        f
    } else {
        String::new()
    }
}

fn exists(c: &Split, answers: &[Registered]) -> bool {
    let addition = addition_for(&c.house_nr_ext);
    answers.iter().any(|a| {
        a.house_nr == c.house_nr
            && street_matches(&a.street, &c.street)
            && (c.house_nr_ext.is_empty()
                || addition.is_empty()
                || fold(&a.addition) == fold(&addition))
    })
}

/// Asks the register for (postcode, number, addition); `None` when it cannot answer.
pub type Ask<'a> = dyn FnMut(&str, &str, &str) -> Option<Vec<Registered>> + 'a;

/// Decides with the register's answers. `lookup(postcode, number, addition)` is `None`
/// when the register could not be asked. `split` is the splitter's own reading (its
/// confidence matters), `candidates` every reading (the split first).
pub fn decide(
    zipcode: &str,
    split: Option<&Split>,
    candidates: &[Split],
    lookup: &mut Ask<'_>,
) -> Decision {
    if let Some(s) = split.filter(|s| s.confidence == Confidence::Sure) {
        return match lookup(zipcode, &s.house_nr, "") {
            None => Decision::Label(s.clone()),
            Some(answers) if answers.is_empty() => Decision::Review("postcode_not_found"),
            // Its number under its street: the extension is the buyer's note (`boven`,
            // `-1 hoog`) as often as a registered addition, so it is not compared.
            Some(answers)
                if answers
                    .iter()
                    .any(|a| a.house_nr == s.house_nr && street_matches(&a.street, &s.street)) =>
            {
                Decision::Label(s.clone())
            }
            Some(answers) if answers.iter().any(|a| a.house_nr == s.house_nr) => {
                Decision::Review("postcode_mismatch")
            }
            Some(_) => Decision::Review("postcode_not_found"),
        };
    }
    let mut confirmed: Vec<&Split> = Vec::new();
    let mut known_elsewhere = false;
    for c in candidates {
        let Some(answers) = lookup(zipcode, &c.house_nr, &addition_for(&c.house_nr_ext)) else {
            return Decision::Review("address_check");
        };
        if exists(c, &answers) {
            confirmed.push(c);
        } else if answers.iter().any(|a| a.house_nr == c.house_nr) {
            known_elsewhere = true;
        }
    }
    match confirmed.as_slice() {
        [one] => {
            let mut s = (*one).clone();
            s.confidence = Confidence::Sure;
            Decision::Label(s)
        }
        [] if known_elsewhere => Decision::Review("postcode_mismatch"),
        _ => Decision::Review("address_check"),
    }
}

/// The run's access to PostNL's postal-code check, with the store as its cache.
pub struct Register<'a> {
    ctx: &'a Ctx,
    cfg: &'a Config,
    client: &'a OnceCell<pn::Client<'a>>,
    /// Calls made to PostNL and answers taken from the cache, this run.
    pub calls: Cell<u32>,
    pub cached: Cell<u32>,
}

impl<'a> Register<'a> {
    pub fn new(ctx: &'a Ctx, cfg: &'a Config, client: &'a OnceCell<pn::Client<'a>>) -> Self {
        Self {
            ctx,
            cfg,
            client,
            calls: Cell::new(0),
            cached: Cell::new(0),
        }
    }

    /// Whether the check is switched on (`postnl.postcode_check`).
    pub fn enabled(&self) -> bool {
        self.cfg.postnl.postcode_check
    }

    /// The run's PostNL client, made on first use.
    ///
    /// # Errors
    ///
    /// The client cannot be made (no key, a bad endpoint).
    pub fn client(&self) -> anyhow::Result<&'a pn::Client<'a>> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = super::client::postnl_client(self.ctx, self.cfg)?;
        Ok(self.client.get_or_init(|| c))
    }

    /// The register's answer for a key: from the cache, or asked (and cached, linked to
    /// `order_id`). `None` when it cannot be had; the reason is logged without the address.
    pub fn lookup(
        &self,
        conn: &rusqlite::Connection,
        order_id: &str,
        now: &str,
        key: (&str, &str, &str),
    ) -> Option<Vec<Registered>> {
        use crate::store::postcode as db;
        let (postcode, house_nr, addition) = key;
        match db::cached(conn, postcode, house_nr, addition) {
            Ok(Some(json)) => {
                if let Ok(v) = serde_json::from_str::<Vec<Registered>>(&json) {
                    self.cached.set(self.cached.get() + 1);
                    if let Err(e) = db::link(conn, key, order_id) {
                        tracing::warn!(order_id, error = %e, "postcode check: cache link failed");
                    }
                    return Some(v);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(order_id, error = %e, "postcode check: cache unreadable");
                return None;
            }
        }
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(order_id, error = %e, "postcode check: no PostNL client");
                return None;
            }
        };
        self.calls.set(self.calls.get() + 1);
        match client.postalcode_check(postcode, house_nr, addition) {
            Ok(answers) => {
                let json = serde_json::to_string(&answers).unwrap_or_else(|_| "[]".into());
                if let Err(e) = db::store(conn, key, &json, order_id, now) {
                    tracing::warn!(order_id, error = %e, "postcode check: cache write failed");
                }
                Some(answers)
            }
            Err(e) => {
                tracing::warn!(order_id, error = %e, "postcode check not answered");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(street: &str, nr: &str, ext: &str, confidence: Confidence) -> Split {
        Split {
            street: street.into(),
            house_nr: nr.into(),
            house_nr_ext: ext.into(),
            company: None,
            building: None,
            department: None,
            zipcode: "1011AB".into(),
            confidence,
        }
    }

    fn reg(street: &str, nr: &str, addition: &str) -> Registered {
        Registered {
            street: street.into(),
            house_nr: nr.into(),
            addition: addition.into(),
            city: "TESTSTAD".into(),
        }
    }

    fn book(
        entries: Vec<Registered>,
        asked: &mut Vec<(String, String, String)>,
    ) -> impl FnMut(&str, &str, &str) -> Option<Vec<Registered>> + '_ {
        move |pc: &str, nr: &str, add: &str| {
            asked.push((pc.into(), nr.into(), add.into()));
            Some(
                entries
                    .iter()
                    .filter(|e| {
                        e.house_nr == nr
                            && (add.is_empty()
                                || fold(&e.addition) == fold(add)
                                || !entries
                                    .iter()
                                    .any(|x| x.house_nr == nr && fold(&x.addition) == fold(add)))
                    })
                    .cloned()
                    .collect(),
            )
        }
    }

    #[test]
    fn the_register_picks_the_reading_that_exists() {
        use Confidence::Check;
        let cands = [
            s("Zonegge", "23", "12", Check),
            s("Zonegge 23", "12", "", Check),
        ];
        let mut asked = Vec::new();
        let d = decide(
            "1011AB",
            Some(&cands[0]),
            &cands,
            &mut book(vec![reg("Zonegge 23", "12", "")], &mut asked),
        );
        assert!(
            matches!(d, Decision::Label(ref x) if x.street == "Zonegge 23" && x.house_nr == "12" && x.confidence == Confidence::Sure),
            "{d:?}"
        );
        assert_eq!(asked[0], ("1011AB".into(), "23".into(), "12".into()));

        let cands = [
            s("Markerkant", "10", "142", Check),
            s("Markerkant 10", "142", "", Check),
        ];
        let d = decide(
            "1011AC",
            None,
            &cands,
            &mut book(vec![reg("Markerkant", "10", "142")], &mut Vec::new()),
        );
        assert!(
            matches!(d, Decision::Label(ref x) if x.street == "Markerkant" && x.house_nr_ext == "142"),
            "{d:?}"
        );

        // Both exist: a person decides.
        let cands = [
            s("Kerkweg", "7", "8", Check),
            s("Kerkweg 7", "8", "", Check),
        ];
        let d = decide(
            "1011AD",
            None,
            &cands,
            &mut book(
                vec![reg("Kerkweg", "7", "8"), reg("Kerkweg 7", "8", "")],
                &mut Vec::new(),
            ),
        );
        assert!(matches!(d, Decision::Review("address_check")), "{d:?}");

        // Neither exists: never labelled.
        let d = decide("1011AD", None, &cands, &mut book(vec![], &mut Vec::new()));
        assert!(matches!(d, Decision::Review("address_check")), "{d:?}");

        // The numbers exist, under another street.
        let d = decide(
            "1011AD",
            None,
            &cands,
            &mut book(
                vec![reg("Registerweg", "7", ""), reg("Registerweg", "8", "")],
                &mut Vec::new(),
            ),
        );
        assert!(matches!(d, Decision::Review("postcode_mismatch")), "{d:?}");

        // Unreachable: review, as without the check.
        let d = decide("1011AD", None, &cands, &mut |_: &str, _: &str, _: &str| {
            None
        });
        assert!(matches!(d, Decision::Review("address_check")), "{d:?}");
    }

    #[test]
    fn a_sure_split_is_checked_against_its_postcode() {
        let sure = s("Hoofdstraat", "12", "boven", Confidence::Sure);
        let one = std::slice::from_ref(&sure);
        let d = decide(
            "1011AE",
            Some(&sure),
            one,
            &mut book(vec![reg("Hoofdstraat", "12", "")], &mut Vec::new()),
        );
        assert!(matches!(d, Decision::Label(_)), "{d:?}");
        let d = decide(
            "1011AE",
            Some(&sure),
            one,
            &mut book(vec![reg("Registerweg", "12", "")], &mut Vec::new()),
        );
        assert!(matches!(d, Decision::Review("postcode_mismatch")), "{d:?}");
        let d = decide(
            "1011AE",
            Some(&sure),
            one,
            &mut book(vec![], &mut Vec::new()),
        );
        assert!(matches!(d, Decision::Review("postcode_not_found")), "{d:?}");
        let d = decide(
            "1011AE",
            Some(&sure),
            one,
            &mut |_: &str, _: &str, _: &str| None,
        );
        assert!(matches!(d, Decision::Label(_)), "{d:?}");
        // An abbreviation of the register's street matches it.
        let abbr = s("Molengraaffpl.", "74", "", Confidence::Sure);
        let d = decide(
            "3571ZZ",
            Some(&abbr),
            std::slice::from_ref(&abbr),
            &mut book(vec![reg("Molengraaffplantsoen", "74", "")], &mut Vec::new()),
        );
        assert!(matches!(d, Decision::Label(_)), "{d:?}");
    }

    #[test]
    fn additions_asked_only_when_the_register_could_hold_them() {
        assert_eq!(addition_for("142"), "142");
        assert_eq!(addition_for("A-2"), "A2");
        assert_eq!(addition_for("-1 hoog"), "");
        assert_eq!(addition_for("bovenwoning"), "");
        assert_eq!(addition_for(""), "");
    }
}
