//! Envelope encryption of secret values.
//!
//! ```text
//!   master key (32 bytes, file 0600 or env)      id = first 8 bytes of SHA-256, hex
//!        │ XChaCha20-Poly1305, AAD = record binding + master key id
//!        ▼
//!   data key (32 bytes, random per record) ── stored wrapped: key_nonce, wrapped_key
//!        │ XChaCha20-Poly1305, AAD = record binding
//!        ▼
//!   values (JSON object) ───────────────────── stored: value_nonce, value_ciphertext
//! ```
//!
//! The record binding (secret id, organisation, type) is in both associated data, so a
//! ciphertext or wrapped key copied into another row fails to open. The master key id is only in
//! the wrapping's associated data: rotating the master key re-wraps each data key and leaves
//! the (larger) value ciphertexts alone. XChaCha's 24-byte nonces are random, so no nonce
//! counter has to be kept anywhere.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Error, Result};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// Fills an array from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Crypto(format!("no randomness from the operating system: {e}")))?;
    Ok(bytes)
}

/// The key-encryption key. Debug shows only its id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let key = Zeroizing::new(bytes);
        // Domain-separated so the id can never equal a hash someone computes of the key for
        // another purpose; 8 bytes tell keys apart, they are not a secret.
        let digest = Sha256::new()
            .chain_update(b"ackctl master key id\0")
            .chain_update(key.as_slice())
            .finalize();
        MasterKey {
            id: hex::encode(&digest[..8]),
            key,
        }
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        let bytes = Zeroizing::new(random_bytes::<KEY_LEN>()?);
        Ok(Self::from_bytes(*bytes))
    }

    /// A key written as base64 (standard alphabet) or hex of 32 bytes, as given in an
    /// environment variable or a key file; `field` names where it came from for the error.
    pub fn from_encoded(field: &str, encoded: &str) -> Result<Self> {
        let text = encoded.trim();
        let decoded = Zeroizing::new(if text.len() == 2 * KEY_LEN {
            hex::decode(text).ok()
        } else {
            base64::engine::general_purpose::STANDARD.decode(text).ok()
        });
        let bytes: [u8; KEY_LEN] = decoded
            .as_deref()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    "a master key is 32 bytes written as base64 or as 64 hex digits",
                )
            })?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as base64, to write to a key file or show once to an operator.
    pub fn encoded(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.key.as_slice()))
    }

    /// Reads the key file, or creates it with a random key and mode 0600 when it does not exist.
    /// A file that others can read is refused: a leaked master key opens every secret.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let key_file = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                check_private(path).map_err(key_file)?;
                Self::from_encoded(&path.display().to_string(), &text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                let mut options = std::fs::OpenOptions::new();
                // create_new: two processes starting at once must not both write a key.
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(path) {
                    Ok(mut file) => {
                        file.write_all(key.encoded().as_bytes()).map_err(key_file)?;
                        file.write_all(b"\n").map_err(key_file)?;
                        file.sync_all().map_err(key_file)?;
                        Ok(key)
                    }
                    // Lost the race: the other process's key is the key.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(key_file(e)),
                }
            }
            Err(e) => Err(key_file(e)),
        }
    }

    /// The short public name of this key, stored beside every wrapped data key.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.key).into())
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "mode {:o} lets other users read the master key; run chmod 600 on it",
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// One encrypted record as it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub value_nonce: Vec<u8>,
    pub value_ciphertext: Vec<u8>,
    pub key_nonce: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub master_key_id: String,
}

/// Associated data built from length-prefixed parts, so that ("ab","c") and ("a","bc") differ.
pub fn binding(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum::<usize>() + 16);
    out.extend_from_slice(b"ackctl/v1");
    for part in parts {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn wrap_aad(record: &[u8], master_key_id: &str) -> Vec<u8> {
    binding(&[b"data-key", record, master_key_id.as_bytes()])
}

fn value_aad(record: &[u8]) -> Vec<u8> {
    binding(&[b"values", record])
}

fn aead_error(what: &str) -> Error {
    // The AEAD error carries no detail on purpose; say what could not be opened.
    Error::Crypto(format!(
        "{what} failed authentication: it was altered, belongs to another record, or needs another master key"
    ))
}

fn nonce(bytes: &[u8], what: &str) -> Result<XNonce> {
    XNonce::try_from(bytes).map_err(|_| {
        Error::Crypto(format!(
            "{what} nonce has {} bytes, not {NONCE_LEN}",
            bytes.len()
        ))
    })
}

/// Encrypts `plaintext` under a fresh data key wrapped by `master`, bound to `record`.
pub fn seal(master: &MasterKey, record: &[u8], plaintext: &[u8]) -> Result<Sealed> {
    let data_key = Zeroizing::new(random_bytes::<KEY_LEN>()?);
    let value_nonce: [u8; NONCE_LEN] = random_bytes()?;
    let key_nonce: [u8; NONCE_LEN] = random_bytes()?;
    let value_ciphertext = XChaCha20Poly1305::new(&(*data_key).into())
        .encrypt(
            &value_nonce.into(),
            Payload {
                msg: plaintext,
                aad: &value_aad(record),
            },
        )
        .map_err(|_| Error::Crypto("encrypting the values failed".into()))?;
    let wrapped_key = master
        .cipher()
        .encrypt(
            &key_nonce.into(),
            Payload {
                msg: data_key.as_slice(),
                aad: &wrap_aad(record, master.id()),
            },
        )
        .map_err(|_| Error::Crypto("wrapping the data key failed".into()))?;
    Ok(Sealed {
        value_nonce: value_nonce.to_vec(),
        value_ciphertext,
        key_nonce: key_nonce.to_vec(),
        wrapped_key,
        master_key_id: master.id().to_owned(),
    })
}

fn unwrap_key(master: &MasterKey, record: &[u8], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>> {
    if sealed.master_key_id != master.id() {
        return Err(Error::Crypto(format!(
            "the data key is wrapped by master key {}, but the key given is {}",
            sealed.master_key_id,
            master.id()
        )));
    }
    let data_key = master
        .cipher()
        .decrypt(
            &nonce(&sealed.key_nonce, "data key")?,
            Payload {
                msg: &sealed.wrapped_key,
                aad: &wrap_aad(record, &sealed.master_key_id),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| aead_error("the wrapped data key"))?;
    if data_key.len() != KEY_LEN {
        return Err(Error::Crypto(format!(
            "the data key has {} bytes",
            data_key.len()
        )));
    }
    Ok(data_key)
}

/// Decrypts a record sealed for `record` under `master`.
pub fn open(master: &MasterKey, record: &[u8], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>> {
    let data_key = unwrap_key(master, record, sealed)?;
    let cipher = XChaCha20Poly1305::new_from_slice(&data_key)
        .map_err(|_| Error::Crypto("the data key has the wrong length".into()))?;
    cipher
        .decrypt(
            &nonce(&sealed.value_nonce, "value")?,
            Payload {
                msg: &sealed.value_ciphertext,
                aad: &value_aad(record),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| aead_error("the secret's values"))
}

/// Re-wraps the data key of a record from `old` to `new`; the values' ciphertext is unchanged.
pub fn rewrap(old: &MasterKey, new: &MasterKey, record: &[u8], sealed: &Sealed) -> Result<Sealed> {
    let data_key = unwrap_key(old, record, sealed)?;
    let key_nonce: [u8; NONCE_LEN] = random_bytes()?;
    let wrapped_key = new
        .cipher()
        .encrypt(
            &key_nonce.into(),
            Payload {
                msg: data_key.as_slice(),
                aad: &wrap_aad(record, new.id()),
            },
        )
        .map_err(|_| Error::Crypto("wrapping the data key failed".into()))?;
    Ok(Sealed {
        key_nonce: key_nonce.to_vec(),
        wrapped_key,
        master_key_id: new.id().to_owned(),
        ..sealed.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> MasterKey {
        MasterKey::from_bytes([seed; KEY_LEN])
    }

    #[test]
    fn key_ids_are_short_stable_and_differ_between_keys() {
        assert_eq!(key(1).id(), key(1).id());
        assert_ne!(key(1).id(), key(2).id());
        assert_eq!(key(1).id().len(), 16);
        assert!(!format!("{:?}", key(1)).contains("[1, 1"));
    }

    #[test]
    fn encoded_keys_round_trip_as_base64_and_hex() {
        let k = MasterKey::generate().expect("randomness");
        let again = MasterKey::from_encoded("env", &k.encoded()).expect("base64");
        assert_eq!(again.id(), k.id());
        let hex_form = hex::encode([7u8; 32]);
        assert_eq!(
            MasterKey::from_encoded("env", &hex_form).expect("hex").id(),
            key(7).id()
        );
        let err = MasterKey::from_encoded("ACKCTL_MASTER_KEY", "short")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid ACKCTL_MASTER_KEY: a master key is 32 bytes written as base64 or as 64 hex digits"
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_is_created_private_reused_and_refused_when_others_can_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let first = MasterKey::load_or_create(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            MasterKey::load_or_create(&path).expect("load").id(),
            first.id()
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = MasterKey::load_or_create(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_record_sealed_for_one_key_does_not_open_with_another() {
        let sealed = seal(&key(1), b"rec", b"value").expect("seal");
        assert!(matches!(
            open(&key(2), b"rec", &sealed),
            Err(Error::Crypto(_))
        ));
    }

    #[test]
    fn rewrapping_changes_only_the_wrapped_key_and_opens_with_the_new_key() {
        let sealed = seal(&key(1), b"rec", b"value").expect("seal");
        let moved = rewrap(&key(1), &key(2), b"rec", &sealed).expect("rewrap");
        assert_eq!(moved.value_ciphertext, sealed.value_ciphertext);
        assert_eq!(moved.master_key_id, key(2).id());
        assert_eq!(
            open(&key(2), b"rec", &moved).expect("open").as_slice(),
            b"value"
        );
        assert!(open(&key(1), b"rec", &moved).is_err());
    }

    #[derive(Debug, Clone)]
    enum Tamper {
        ValueCiphertext(usize, u8),
        ValueNonce(usize, u8),
        KeyNonce(usize, u8),
        WrappedKey(usize, u8),
        KeyId,
        Record(Vec<u8>),
        Truncate(usize),
    }

    fn flip(bytes: &mut [u8], at: usize, bits: u8) {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] ^= bits;
        }
    }

    fn tamper() -> impl Strategy<Value = Tamper> {
        let bits = 1u8..=255;
        prop_oneof![
            (any::<usize>(), bits.clone()).prop_map(|(i, b)| Tamper::ValueCiphertext(i, b)),
            (any::<usize>(), bits.clone()).prop_map(|(i, b)| Tamper::ValueNonce(i, b)),
            (any::<usize>(), bits.clone()).prop_map(|(i, b)| Tamper::KeyNonce(i, b)),
            (any::<usize>(), bits).prop_map(|(i, b)| Tamper::WrappedKey(i, b)),
            Just(Tamper::KeyId),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Tamper::Record),
            (1usize..20).prop_map(Tamper::Truncate),
        ]
    }

    proptest! {
        #[test]
        fn sealed_records_round_trip(
            plaintext in proptest::collection::vec(any::<u8>(), 0..300),
            record in proptest::collection::vec(any::<u8>(), 0..60),
            seed in any::<u8>(),
        ) {
            let master = key(seed);
            let sealed = seal(&master, &record, &plaintext).expect("seal");
            let opened = open(&master, &record, &sealed).expect("open");
            prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
        }

        #[test]
        fn any_tampering_makes_opening_fail(
            plaintext in proptest::collection::vec(any::<u8>(), 0..100),
            how in tamper(),
        ) {
            let master = key(9);
            let record = b"secret-id|org-1|alibaba".to_vec();
            let mut sealed = seal(&master, &record, &plaintext).expect("seal");
            let mut record_used = record.clone();
            match how {
                Tamper::ValueCiphertext(i, b) => flip(&mut sealed.value_ciphertext, i, b),
                Tamper::ValueNonce(i, b) => flip(&mut sealed.value_nonce, i, b),
                Tamper::KeyNonce(i, b) => flip(&mut sealed.key_nonce, i, b),
                Tamper::WrappedKey(i, b) => flip(&mut sealed.wrapped_key, i, b),
                Tamper::KeyId => sealed.master_key_id = key(10).id().to_owned(),
                Tamper::Record(other) => {
                    prop_assume!(other != record);
                    record_used = other;
                }
                Tamper::Truncate(n) => {
                    let len = sealed.value_ciphertext.len().saturating_sub(n);
                    sealed.value_ciphertext.truncate(len);
                }
            }
            prop_assert!(matches!(open(&master, &record_used, &sealed), Err(Error::Crypto(_))));
        }
    }
}
