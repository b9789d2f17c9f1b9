//! The API-key page's words (`console/keys.rs`): the keys, creating and revoking one.

use super::Tr;

texts!(
    Keys
    create_key,
    all_keys,
    created,
    this_key,
    key_live,
    key_revoked,
    revoke,
    copy,
    copied,
    key_shown_once,
    roles_hint,
    bind_client,
    bind_campaigns,
    bind_global,
    bind_hint,
    bound_to,
    every_client,
    campaigns_word,
    global_too,
);

pub(super) const EN: Keys = Keys {
    create_key: "Create a key",
    all_keys: "All keys",
    created: "Created",
    this_key: "this session",
    key_live: "Live",
    key_revoked: "Revoked",
    revoke: "Revoke",
    copy: "Copy",
    copied: "Copied",
    key_shown_once: "Store it now: it is shown only this once and cannot be recovered.",
    roles_hint: "dialer: checks only · agent: also blocks numbers and reads the list · ops: also registries · admin: also unblocks, keys and the audit log.",
    bind_client: "Client (binds the key)",
    bind_campaigns: "Campaigns of that client (optional, one per line)",
    bind_global: "The bound key may also add global entries (a number blocked for every client)",
    bind_hint: "With a client, the key (a dialer or an agent) checks, adds entries and consents and sees data for that client only; leave it empty for a key that acts for every client. A binding cannot be changed later.",
    bound_to: "Bound to",
    every_client: "every client",
    campaigns_word: "campaigns",
    global_too: "may block globally",
};

pub(super) const PL: Keys = Keys {
    create_key: "Utwórz klucz",
    all_keys: "Wszystkie klucze",
    created: "Utworzono",
    this_key: "ta sesja",
    key_live: "Aktywny",
    key_revoked: "Unieważniony",
    revoke: "Unieważnij",
    copy: "Kopiuj",
    copied: "Skopiowano",
    key_shown_once: "Zapisz go teraz: jest pokazywany tylko raz i nie da się go odzyskać.",
    roles_hint: "dialer: tylko sprawdzanie · agent: także blokuje numery i czyta listę · ops: także rejestry · admin: także odblokowuje, klucze i dziennik zmian.",
    bind_client: "Klient (wiąże klucz)",
    bind_campaigns: "Kampanie tego klienta (opcjonalnie, po jednej w wierszu)",
    bind_global: "Powiązany klucz może też dodawać wpisy globalne (numer zablokowany dla każdego klienta)",
    bind_hint: "Z klientem klucz (dialer lub agent) sprawdza, dodaje wpisy i zgody oraz widzi dane tylko tego klienta; pozostaw puste dla klucza działającego dla każdego klienta. Powiązania nie można później zmienić.",
    bound_to: "Powiązany z",
    every_client: "każdy klient",
    campaigns_word: "kampanie",
    global_too: "może blokować globalnie",
};

impl Tr {
    pub fn key_created(&self, name: &str, role: &str, client: Option<&str>) -> String {
        match (client, self.pl()) {
            (None, true) => format!("Utworzono klucz „{name}” (rola {role}):"),
            (None, false) => format!("Created the key “{name}” (role {role}):"),
            (Some(c), true) => {
                format!("Utworzono klucz „{name}” (rola {role}, powiązany z klientem {c}):")
            }
            (Some(c), false) => {
                format!("Created the key “{name}” (role {role}, bound to client {c}):")
            }
        }
    }

    pub fn key_revoked_msg(&self, name: &str) -> String {
        if self.pl() {
            format!("Unieważniono klucz „{name}”; jego sesje zakończyły się.")
        } else {
            format!("Revoked the key “{name}”; its sessions have ended.")
        }
    }

    pub fn revoke_confirm(&self, name: &str) -> String {
        if self.pl() {
            format!("Unieważnić klucz „{name}”? Przestanie działać od razu.")
        } else {
            format!("Revoke the key “{name}”? It stops working at once.")
        }
    }
}
