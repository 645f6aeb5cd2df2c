//! libespeak-ng loaded at run time (`libespeak-ng.so.1`), so narrate builds without its headers: the library,
//! initialized once in synchronous mode, and its symbols. Piper's and hibari's phonemizer and the espeak
//! backend's synthesis server (`espeak/server.rs`) load it through here.

use std::ffi::{c_char, c_int, CStr};

type Initialize = unsafe extern "C" fn(c_int, c_int, *const c_char, c_int) -> c_int;
type Info = unsafe extern "C" fn(*mut *const c_char) -> *const c_char;

/// espeak_Initialize's output mode: samples come back through the synth callback, in the calling thread.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
/// Return errors instead of calling `exit()` when the data cannot be loaded.
const INITIALIZE_DONT_EXIT: c_int = 0x8000;

/// An initialized libespeak-ng.
pub(crate) struct Library {
    lib: libloading::Library,
    /// Its sample rate (espeak_Initialize's answer).
    pub(crate) sample_rate: u32,
    /// Its version, e.g. `1.51`.
    pub(crate) version: String,
}

fn missing(e: libloading::Error) -> String {
    format!("libespeak-ng is not installed ({e}); install it with `apt-get install libespeak-ng1`")
}

impl Library {
    /// Loads and initializes the library (its data from the default place), once per process.
    pub(crate) fn load() -> Result<Library, String> {
        // SAFETY: loading a shared library runs its initializers; libespeak-ng's are plain C.
        let lib = unsafe { libloading::Library::new("libespeak-ng.so.1") }.map_err(missing)?;
        // SAFETY: the symbol types match espeak-ng's speak_lib.h (stable since 1.49).
        unsafe {
            let initialize: Initialize = *lib.get(b"espeak_Initialize\0").map_err(missing)?;
            let info: Info = *lib.get(b"espeak_Info\0").map_err(missing)?;
            let rate = initialize(
                AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                std::ptr::null(),
                INITIALIZE_DONT_EXIT,
            );
            if rate <= 0 {
                return Err(
                    "libespeak-ng could not load its data (is espeak-ng-data installed?)".into(),
                );
            }
            let version = CStr::from_ptr(info(std::ptr::null_mut()))
                .to_string_lossy()
                .into_owned();
            Ok(Library {
                lib,
                sample_rate: rate as u32,
                version,
            })
        }
    }

    /// A function of the library.
    ///
    /// # Safety
    /// `T` must be the function's type as speak_lib.h declares it.
    pub(crate) unsafe fn get<T: Copy>(&self, name: &[u8]) -> Result<T, String> {
        self.lib.get::<T>(name).map(|s| *s).map_err(missing)
    }
}
