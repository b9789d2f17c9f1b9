//! The audit log's words (`console/audit.rs`): its filters and its actions' names.

use super::Tr;

texts!(
    Audit
    action,
    actor,
    actor_hint,
    from_utc,
    to_utc,
    details,
    system,
    error,
);

pub(super) const EN: Audit = Audit {
    action: "Action",
    actor: "Actor",
    actor_hint: "A key's name, or its number.",
    from_utc: "From (UTC)",
    to_utc: "To (UTC)",
    details: "Details",
    system: "tarcza itself",
    error: "Error",
};

pub(super) const PL: Audit = Audit {
    action: "Zdarzenie",
    actor: "Kto",
    actor_hint: "Nazwa klucza albo jego numer.",
    from_utc: "Od (UTC)",
    to_utc: "Do (UTC)",
    details: "Szczegóły",
    system: "sama tarcza",
    error: "Błąd",
};

impl Tr {
    pub fn action_label(&self, action: &str) -> &'static str {
        let (en, pl) = match action {
            "dnc.*" => ("Do-not-call list (all)", "Lista (wszystko)"),
            "dnc.add" => ("Blocked", "Zablokowano"),
            "dnc.extend" => ("Block extended", "Przedłużono blokadę"),
            "dnc.remove" => ("Unblocked", "Odblokowano"),
            "dnc.merge" => ("Entries merged", "Scalono wpisy"),
            "import.*" => ("Imports (all)", "Importy (wszystko)"),
            "import.start" => ("Import started", "Rozpoczęto import"),
            "import.succeeded" => ("Import succeeded", "Import udany"),
            "import.unchanged" => ("Import: no change", "Import bez zmian"),
            "import.refused" => ("Import refused", "Import odrzucony"),
            "import.failed" => ("Import failed", "Import nieudany"),
            "key.*" => ("Keys (all)", "Klucze (wszystko)"),
            "key.create" => ("Key created", "Utworzono klucz"),
            "key.revoke" => ("Key revoked", "Unieważniono klucz"),
            "key.bootstrap" => ("Bootstrap key set", "Ustawiono klucz startowy"),
            "console.*" => ("Console sign-ins (all)", "Logowania do konsoli (wszystko)"),
            "console.sign_in" => ("Signed in", "Zalogowano"),
            "console.sign_out" => ("Signed out", "Wylogowano"),
            "consent.add" => ("Consent recorded", "Zapisano zgodę"),
            "consent.withdraw" => ("Consent withdrawn", "Wycofano zgodę"),
            "consent.import" => ("Consents loaded in bulk", "Wczytano zgody hurtowo"),
            "policy.set" => ("Policy set", "Ustawiono zasady"),
            "policy.remove" => ("Policy removed", "Usunięto zasady"),
            _ => ("Other", "Inne"),
        };
        if self.pl() {
            pl
        } else {
            en
        }
    }
}
