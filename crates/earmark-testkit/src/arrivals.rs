//! Noticing the moment a file arrives in a directory (inotify), to act on the server right
//! then: a crash test kills it with the file there and nothing after it written yet.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

/// A watch on one directory for files created in it or renamed into it.
pub struct Arrivals {
    fd: OwnedFd,
    dir: PathBuf,
}

impl Arrivals {
    /// Watches `dir`, creating it first if needed. Set it up before the file can arrive.
    pub fn watch(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).unwrap();
        inotify::add_watch(&fd, dir, WatchFlags::CREATE | WatchFlags::MOVED_TO).unwrap();
        Self {
            fd,
            dir: dir.to_owned(),
        }
    }

    /// The next file to arrive (its path), blocking at most `within`; it panics after that.
    pub fn next(&self, within: Duration) -> PathBuf {
        let deadline = Instant::now() + within;
        let mut buffer = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        loop {
            let mut reader = inotify::Reader::new(&self.fd, &mut buffer);
            loop {
                match reader.next() {
                    Ok(event) => {
                        let is_file = !event.events().contains(ReadFlags::ISDIR);
                        if let (true, Some(name)) = (is_file, event.file_name()) {
                            return self.dir.join(name.to_string_lossy().as_ref());
                        }
                    }
                    Err(rustix::io::Errno::WOULDBLOCK) => break,
                    Err(e) => panic!("reading inotify events: {e}"),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "nothing arrived in {} within {within:?}",
                self.dir.display()
            );
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            let timeout = Timespec::try_from(left).unwrap();
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => panic!("waiting for inotify events: {e}"),
            }
        }
    }
}
