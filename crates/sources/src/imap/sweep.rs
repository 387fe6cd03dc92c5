//! One sweep over a mailbox: list folders, examine each, fetch what is new.

use super::connect::{self, Session};
use super::{FolderState, ImapAccount, ImapError, MailEvent, MailboxState, utf7};
use phiscan_core::Coverage;
use phiscan_core::cache::ItemCache;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Messages fetched per command, and the largest batch in bytes: bounds
/// memory and the work lost when a connection drops.
const BATCH_MESSAGES: usize = 25;
const BATCH_BYTES: u64 = 16 << 20;

/// How often and how patiently a lost connection is reopened.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Connections tried for one step before its messages are given up.
    pub attempts: u32,
    /// Wait before the first retry; doubled after each failed try.
    pub first_delay: Duration,
    /// Socket timeout for connecting, reading and writing.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_secs(2),
            timeout: Duration::from_secs(60),
        }
    }
}

/// The UIDs a sweep fetches in one folder, and the folder's state after it.
#[derive(Clone, Debug, Default)]
pub struct FolderPlan {
    pub uidvalidity: u32,
    /// The folder's highest UID once this sweep is done.
    pub last_uid: u32,
    /// UIDs to fetch.
    pub targets: Vec<u32>,
    /// UIDs that no longer exist on the server (expunged meanwhile).
    pub vanished: BTreeSet<u32>,
}

/// A sweep of one mailbox.
pub struct Sweep {
    account: ImapAccount,
    prior: MailboxState,
    retry: RetryPolicy,
    max_message_bytes: u64,
    /// Earlier results of this mailbox; a message they hold is not fetched
    /// again.
    cache: Option<Arc<dyn ItemCache>>,
    plans: Mutex<BTreeMap<String, FolderPlan>>,
    /// Why the mailbox could not be read at all, when it could not.
    failure: Mutex<Option<String>>,
}

impl std::fmt::Debug for Sweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweep")
            .field("account", &self.account)
            .field("prior", &self.prior)
            .field("retry", &self.retry)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("reuses_earlier_results", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

/// A folder as listed by the server.
struct ListedFolder {
    /// The name as the server spells it (modified UTF-7), for EXAMINE.
    raw: String,
    /// The decoded name: the key of the folder's state.
    name: String,
    /// The path in locations: the decoded name with `/` between levels.
    path: String,
}

impl Sweep {
    /// Prepares a sweep; `prior` is what the last sweep of this mailbox left,
    /// and `cache` contains the results of the messages it read.
    pub fn new(
        account: ImapAccount,
        prior: MailboxState,
        retry: RetryPolicy,
        max_message_bytes: u64,
        cache: Option<Arc<dyn ItemCache>>,
    ) -> Sweep {
        Sweep {
            account,
            prior,
            retry,
            max_message_bytes,
            cache,
            plans: Mutex::new(BTreeMap::new()),
            failure: Mutex::new(None),
        }
    }

    /// Returns why the mailbox could not be read at all (no connection,
    /// login or folder list), or None when the sweep got that far.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Returns the earlier results of this mailbox, when a sweep of it was
    /// resumed.
    pub fn cache(&self) -> Option<&Arc<dyn ItemCache>> {
        self.cache.as_ref()
    }

    /// Returns the mailbox part of this sweep's locations.
    pub fn mailbox(&self) -> String {
        self.account.url.mailbox()
    }

    /// Runs the sweep, handing each message or failure to `emit`; stops when
    /// `emit` returns false or `cancel` is set.
    pub fn run(&self, cancel: &AtomicBool, emit: &mut dyn FnMut(MailEvent) -> bool) {
        let mailbox = self.mailbox();
        let fail_all = |emit: &mut dyn FnMut(MailEvent) -> bool, err: &ImapError| {
            // The failure becomes the mailbox's item record, and the scan
            // command prints it again at the end, so a warning here would
            // print it a third time.
            tracing::debug!(mailbox = %mailbox, error = %err, "IMAP sweep failed");
            *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(err.to_string());
            emit(MailEvent::Failed {
                location: mailbox.clone(),
                coverage: Coverage::Error,
                reason: format!("mailbox not read: {err}"),
                size: 0,
            });
        };
        let tls = match connect::tls_config(self.account.ca_cert.as_deref()) {
            Ok(tls) => tls,
            Err(err) => return fail_all(emit, &err),
        };
        let mut connection = Connection {
            sweep: self,
            tls,
            session: None,
        };
        let folders = match connection.retry(cancel, |session| {
            list_folders(session, self.account.url.folder.as_deref())
        }) {
            Ok(folders) => folders,
            Err(err) => return fail_all(emit, &err),
        };
        if folders.is_empty() {
            let reason = match &self.account.url.folder {
                Some(folder) => format!("folder {folder:?} not found on the server"),
                None => "the server listed no folder".to_string(),
            };
            emit(MailEvent::Failed {
                location: mailbox.clone(),
                coverage: Coverage::Error,
                reason,
                size: 0,
            });
            return;
        }
        for folder in folders {
            if cancel.load(Ordering::Relaxed)
                || !self.folder(&mut connection, &folder, cancel, emit)
            {
                break;
            }
        }
        if let Some(mut session) = connection.session.take() {
            let _ = session.logout();
        }
    }

    /// Sweeps one folder; returns false when the sweep should stop.
    fn folder(
        &self,
        connection: &mut Connection<'_>,
        folder: &ListedFolder,
        cancel: &AtomicBool,
        emit: &mut dyn FnMut(MailEvent) -> bool,
    ) -> bool {
        let location = format!("{}!/{}", self.mailbox(), folder.path);
        let examined = connection.retry(cancel, |session| examine(session, &folder.raw));
        let uidvalidity = match examined {
            Ok(uidvalidity) => uidvalidity,
            Err(err) => {
                return emit(MailEvent::Failed {
                    location,
                    coverage: Coverage::Error,
                    reason: format!("folder not examined: {err}"),
                    size: 0,
                });
            }
        };

        let prior = self
            .prior
            .get(&folder.name)
            .filter(|state| state.uidvalidity == uidvalidity && uidvalidity != 0);
        if self.prior.contains_key(&folder.name) && prior.is_none() {
            tracing::info!(folder = %folder.name, "UIDVALIDITY changed; the whole folder is fetched again");
        }
        let start = prior.map_or(1, |state| state.last_uid.saturating_add(1));
        // Every UID is listed, so that the messages read before and still
        // on the server are recorded again, like unchanged files in a sweep.
        let found = match connection.retry(cancel, |session| {
            session.uid_search("UID 1:*").map_err(imap_error)
        }) {
            Ok(found) => found,
            Err(err) => {
                return emit(MailEvent::Failed {
                    location,
                    coverage: Coverage::Error,
                    reason: format!("folder not searched: {err}"),
                    size: 0,
                });
            }
        };
        let mut targets: BTreeSet<u32> = prior
            .map(|state| state.pending.iter().copied().collect())
            .unwrap_or_default();
        let mut known = Vec::new();
        for uid in found {
            let read_before = uid < start && !targets.contains(&uid);
            let message = format!("{location}/{uid}");
            // A message whose earlier results cannot be reused (it failed,
            // or the rules changed since) is fetched again.
            if read_before
                && self
                    .cache
                    .as_ref()
                    .is_some_and(|cache| cache.has_message(&message))
            {
                known.push(message);
            } else {
                targets.insert(uid);
            }
        }
        let targets: Vec<u32> = targets.into_iter().collect();
        let last_uid = targets
            .last()
            .copied()
            .unwrap_or(0)
            .max(prior.map_or(0, |state| state.last_uid));
        self.plans.lock().unwrap_or_else(|e| e.into_inner()).insert(
            folder.name.clone(),
            FolderPlan {
                uidvalidity,
                last_uid,
                targets: targets.clone(),
                vanished: BTreeSet::new(),
            },
        );
        tracing::info!(folder = %folder.name, messages = targets.len(), reused = known.len(), "IMAP folder examined");
        for location in known {
            if !emit(MailEvent::Known { location }) {
                return false;
            }
        }
        if targets.is_empty() {
            return true;
        }

        let sizes = match connection.retry(cancel, |session| fetch_sizes(session, &targets)) {
            Ok(sizes) => sizes,
            Err(err) => return self.give_up(&location, &targets, &err, emit),
        };
        let mut queue: std::collections::VecDeque<u32> = targets.into_iter().collect();
        while !queue.is_empty() {
            if cancel.load(Ordering::Relaxed) {
                return false;
            }
            let mut batch = Vec::new();
            let mut bytes = 0u64;
            while let Some(&uid) = queue.front() {
                let size = u64::from(sizes.get(&uid).copied().unwrap_or(0));
                if size > self.max_message_bytes {
                    queue.pop_front();
                    let skipped = MailEvent::Failed {
                        location: format!("{location}/{uid}"),
                        coverage: Coverage::Skipped,
                        reason: format!(
                            "message of {} MiB is larger than the in-memory limit; raise --max-item-mib to read it",
                            size >> 20
                        ),
                        size,
                    };
                    if !emit(skipped) {
                        return false;
                    }
                    continue;
                }
                if !batch.is_empty()
                    && (batch.len() >= BATCH_MESSAGES || bytes + size > BATCH_BYTES)
                {
                    break;
                }
                batch.push(uid);
                bytes += size;
                queue.pop_front();
            }
            if batch.is_empty() {
                continue;
            }
            let fetched = connection.retry_checked(cancel, uidvalidity, &folder.raw, |session| {
                fetch_bodies(session, &batch)
            });
            match fetched {
                Ok(messages) => {
                    let mut returned = HashSet::new();
                    for (uid, data, received) in messages {
                        returned.insert(uid);
                        let event = MailEvent::Message {
                            location: format!("{location}/{uid}"),
                            folder: folder.name.clone(),
                            uid,
                            data,
                            received,
                        };
                        if !emit(event) {
                            return false;
                        }
                    }
                    let vanished: Vec<u32> = batch
                        .iter()
                        .copied()
                        .filter(|uid| !returned.contains(uid))
                        .collect();
                    if !vanished.is_empty() {
                        tracing::debug!(folder = %folder.name, count = vanished.len(), "messages expunged during the sweep");
                        if let Some(plan) = self
                            .plans
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_mut(&folder.name)
                        {
                            plan.vanished.extend(vanished);
                        }
                    }
                }
                Err(err) => {
                    let mut rest = batch;
                    rest.extend(queue.drain(..));
                    return self.give_up(&location, &rest, &err, emit);
                }
            }
        }
        true
    }

    /// Records every UID of `uids` as not fetched; they stay pending.
    fn give_up(
        &self,
        location: &str,
        uids: &[u32],
        err: &ImapError,
        emit: &mut dyn FnMut(MailEvent) -> bool,
    ) -> bool {
        tracing::error!(location, messages = uids.len(), error = %err, "IMAP messages not fetched");
        for &uid in uids {
            let event = MailEvent::Failed {
                location: format!("{location}/{uid}"),
                coverage: Coverage::Error,
                reason: format!(
                    "message not fetched: {err}; it is fetched again on the next sweep"
                ),
                size: 0,
            };
            if !emit(event) {
                return false;
            }
        }
        true
    }

    /// Returns the state to keep after the sweep: `done` contains the
    /// (folder, UID) pairs whose item records were written. Folders the sweep did not
    /// reach keep their earlier state.
    pub fn state_after(&self, done: &HashSet<(String, u32)>) -> MailboxState {
        let mut state = self.prior.clone();
        let plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        for (folder, plan) in plans.iter() {
            let pending = plan
                .targets
                .iter()
                .copied()
                .filter(|uid| {
                    !plan.vanished.contains(uid) && !done.contains(&(folder.clone(), *uid))
                })
                .collect();
            state.insert(
                folder.clone(),
                FolderState {
                    uidvalidity: plan.uidvalidity,
                    last_uid: plan.last_uid,
                    pending,
                },
            );
        }
        state
    }
}

/// The session of a sweep, reopened when it fails.
struct Connection<'a> {
    sweep: &'a Sweep,
    tls: Arc<rustls::ClientConfig>,
    session: Option<Session>,
}

impl Connection<'_> {
    /// Runs `step` on the session, reconnecting with backoff after a
    /// transient failure.
    fn retry<T>(
        &mut self,
        cancel: &AtomicBool,
        mut step: impl FnMut(&mut Session) -> Result<T, ImapError>,
    ) -> Result<T, ImapError> {
        self.retry_inner(cancel, None, &mut step)
    }

    /// Like [`Connection::retry`], but re-examines `folder` after a reconnect
    /// and fails when its UIDVALIDITY changed: the UIDs would name other messages.
    fn retry_checked<T>(
        &mut self,
        cancel: &AtomicBool,
        uidvalidity: u32,
        folder: &str,
        mut step: impl FnMut(&mut Session) -> Result<T, ImapError>,
    ) -> Result<T, ImapError> {
        self.retry_inner(cancel, Some((uidvalidity, folder)), &mut step)
    }

    fn retry_inner<T>(
        &mut self,
        cancel: &AtomicBool,
        reexamine: Option<(u32, &str)>,
        step: &mut dyn FnMut(&mut Session) -> Result<T, ImapError>,
    ) -> Result<T, ImapError> {
        let policy = &self.sweep.retry;
        let mut delay = policy.first_delay;
        let mut attempt = 1;
        loop {
            let result = self.session_for(reexamine).and_then(&mut *step);
            match result {
                Ok(value) => return Ok(value),
                Err(err)
                    if err.is_transient()
                        && attempt < policy.attempts
                        && !cancel.load(Ordering::Relaxed) =>
                {
                    tracing::warn!(
                        mailbox = %self.sweep.mailbox(),
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %err,
                        "IMAP connection failed; reconnecting"
                    );
                    self.session = None;
                    std::thread::sleep(delay);
                    delay *= 2;
                    attempt += 1;
                }
                Err(err) => {
                    if err.is_transient() {
                        self.session = None;
                    }
                    return Err(err);
                }
            }
        }
    }

    /// Returns the open session, or opens one (and re-examines the folder).
    fn session_for(&mut self, reexamine: Option<(u32, &str)>) -> Result<&mut Session, ImapError> {
        if self.session.is_none() {
            let mut session =
                connect::open(&self.sweep.account, &self.tls, self.sweep.retry.timeout)?;
            if let Some((uidvalidity, folder)) = reexamine {
                let now = examine(&mut session, folder)?;
                if now != uidvalidity {
                    return Err(ImapError::Protocol(format!(
                        "UIDVALIDITY of the folder changed from {uidvalidity} to {now} during the sweep"
                    )));
                }
            }
            self.session = Some(session);
        }
        Ok(self.session.as_mut().expect("session was just opened"))
    }
}

fn imap_error(err: imap::Error) -> ImapError {
    match err {
        imap::Error::Io(err) => ImapError::Io(err),
        imap::Error::ConnectionLost => ImapError::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection lost",
        )),
        imap::Error::No(response) => {
            ImapError::Protocol(format!("the server rejected the command (NO): {response}"))
        }
        imap::Error::Bad(response) => ImapError::Protocol(format!(
            "the server rejected the command as invalid (BAD): {response}"
        )),
        other => ImapError::Protocol(other.to_string()),
    }
}

/// Lists selectable folders, those under `only` (and `only` itself) when given.
fn list_folders(session: &mut Session, only: Option<&str>) -> Result<Vec<ListedFolder>, ImapError> {
    let names = session.list(Some(""), Some("*")).map_err(imap_error)?;
    let mut folders = Vec::new();
    for name in names.iter() {
        let selectable = !name
            .attributes()
            .iter()
            .any(|attribute| matches!(attribute, imap_proto::NameAttribute::NoSelect));
        if !selectable {
            continue;
        }
        let raw = name.name().to_string();
        let decoded = utf7::decode(&raw);
        let delimiter = name.delimiter().unwrap_or("/");
        let path: String = decoded
            .split(delimiter)
            .map(|level| level.replace(['/', '!'], "_"))
            .collect::<Vec<_>>()
            .join("/");
        if let Some(only) = only {
            let under = decoded == only || decoded.starts_with(&format!("{only}{delimiter}"));
            if !under {
                continue;
            }
        }
        folders.push(ListedFolder {
            raw,
            name: decoded,
            path,
        });
    }
    folders.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(folders)
}

/// Opens a folder read-only; returns its UIDVALIDITY (0 when the server
/// does not send one, which disables resuming for the folder).
fn examine(session: &mut Session, folder: &str) -> Result<u32, ImapError> {
    let mailbox = session.examine(folder).map_err(imap_error)?;
    Ok(mailbox.uid_validity.unwrap_or(0))
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn fetch_sizes(session: &mut Session, uids: &[u32]) -> Result<HashMap<u32, u32>, ImapError> {
    let mut sizes = HashMap::new();
    for chunk in uids.chunks(500) {
        let fetches = session
            .uid_fetch(uid_set(chunk), "(UID RFC822.SIZE)")
            .map_err(imap_error)?;
        for fetch in fetches.iter() {
            if let (Some(uid), Some(size)) = (fetch.uid, fetch.size) {
                sizes.insert(uid, size);
            }
        }
    }
    Ok(sizes)
}

type Fetched = (u32, Vec<u8>, Option<i64>);

fn fetch_bodies(session: &mut Session, uids: &[u32]) -> Result<Vec<Fetched>, ImapError> {
    let fetches = session
        .uid_fetch(uid_set(uids), "(UID INTERNALDATE BODY.PEEK[])")
        .map_err(imap_error)?;
    let mut messages = Vec::new();
    for fetch in fetches.iter() {
        let Some(uid) = fetch.uid else { continue };
        if !uids.contains(&uid) {
            continue;
        }
        let Some(body) = fetch.body() else {
            return Err(ImapError::Protocol(format!(
                "no message body returned for UID {uid}"
            )));
        };
        let received = fetch.internal_date().map(|date| date.timestamp());
        messages.push((uid, body.to_vec(), received));
    }
    Ok(messages)
}
