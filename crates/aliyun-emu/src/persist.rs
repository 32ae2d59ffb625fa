//! Optional persistence of the emulated cloud across restarts: one JSON file, replaced
//! atomically (write to a temporary file, then rename) after every change.

use crate::world::World;
use std::io;
use std::path::{Path, PathBuf};

/// The file holding the world.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file inside `dir`, which is created if needed.
    pub fn in_dir(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            path: dir.join("aliyun-emu.json"),
        })
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved world, or an empty one when nothing was saved yet.
    pub fn load(&self) -> io::Result<World> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a valid emulator state file: {e}",
                        self.path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(World::default()),
            Err(e) => Err(e),
        }
    }

    /// Saves the world atomically.
    pub fn save(&self, world: &World) -> io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(world)?)?;
        std::fs::rename(&tmp, &self.path)
    }
}
