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
};

impl Tr {
    pub fn key_created(&self, name: &str, role: &str) -> String {
        if self.pl() {
            format!("Utworzono klucz „{name}” (rola {role}):")
        } else {
            format!("Created the key “{name}” (role {role}):")
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
