//! The sentry's error type: a Linux errno, which is exactly what the
//! application sees when a handler fails.

/// A Linux errno value (positive).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

pub type KResult<T> = Result<T, Errno>;

macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        impl Errno {
            $(pub const $name: Errno = Errno(libc::$name);)*
            /// The symbolic name, for logs and strace.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $(libc::$name => stringify!($name),)*
                    512 => "ERESTARTSYS",
                    513 => "ERESTARTNOINTR",
                    514 => "ERESTARTNOHAND",
                    516 => "ERESTART_RESTARTBLOCK",
                    _ => "E?",
                }
            }
        }
    };
}

errnos!(
    EPERM,
    ENOENT,
    ESRCH,
    EINTR,
    EIO,
    ENXIO,
    E2BIG,
    ENOEXEC,
    EBADF,
    ECHILD,
    EAGAIN,
    ENOMEM,
    EACCES,
    EUSERS,
    EFAULT,
    EBUSY,
    EEXIST,
    EXDEV,
    ENODEV,
    ENOTDIR,
    EISDIR,
    EINVAL,
    ENFILE,
    EMFILE,
    ENOTTY,
    ETXTBSY,
    EFBIG,
    ENOSPC,
    ESPIPE,
    EROFS,
    EMLINK,
    EPIPE,
    ERANGE,
    EDEADLK,
    ENAMETOOLONG,
    ENOLCK,
    ENOSYS,
    ENOTEMPTY,
    ELOOP,
    ENODATA,
    ETIME,
    EOVERFLOW,
    EOPNOTSUPP,
    ENOTSOCK,
    EAFNOSUPPORT,
    ETIMEDOUT,
    EOWNERDEAD,
    ENOTRECOVERABLE,
    ECANCELED,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    EDOM,
    ENOTCONN,
    ECONNREFUSED,
    EADDRINUSE,
    EISCONN,
    ENOPROTOOPT,
    EPROTOTYPE,
    EMSGSIZE,
    ECONNRESET,
    ETOOMANYREFS,
    EDESTADDRREQ,
    ENOBUFS,
    EADDRNOTAVAIL,
    ENETUNREACH,
    EINPROGRESS,
    EIDRM,
    ENOMSG,
    ENOPKG,
    EALREADY,
);

impl Errno {
    /// Restart the syscall if the interrupting signal's handler has SA_RESTART.
    pub const ERESTARTSYS: Errno = Errno(512);
    /// Always restart.
    pub const ERESTARTNOINTR: Errno = Errno(513);
    /// Restart only if no handler ran.
    pub const ERESTARTNOHAND: Errno = Errno(514);
    /// Restart through restart_syscall if no handler ran.
    pub const ERESTART_RESTARTBLOCK: Errno = Errno(516);
    /// Kernel-internal: the call needs the kernel lock (a lock-free
    /// attempt met state only the lock guards). Never reaches the
    /// application: the lock-free dispatcher hands the call to the locked
    /// handler, which never produces it.
    pub const NEEDLOCK: Errno = Errno(4095);

    pub fn from_io(e: &std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// errno of the last failed libc call.
    pub fn last() -> Errno {
        Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }
}

impl std::fmt::Debug for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())
    }
}

impl From<gofer::GoferError> for Errno {
    fn from(e: gofer::GoferError) -> Errno {
        if !matches!(e, gofer::GoferError::Errno(_)) {
            tracing::error!("gofer: {e}");
        }
        Errno(e.errno())
    }
}
