//! A share of a batch's work (`--shard K/N` or `auto` from Slurm or Kubernetes): which segments and editions one
//! machine of many takes. The scheduler and the batch runner both use it.

/// A share of the work: shard `index` (from 0) of `count`; written and read as `K/N` with K from 1 to N, as
/// cargo-nextest's `--partition count:K/N`, Playwright and Jest count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// `K/N`, or `auto`: Slurm job arrays (`SLURM_ARRAY_TASK_ID` from `SLURM_ARRAY_TASK_MIN`, out of
    /// `SLURM_ARRAY_TASK_COUNT`), else a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, out of `count`, which
    /// Kubernetes does not pass: give `--shard-count` or `NARRATE_SHARD_COUNT`).
    pub(crate) fn parse(spec: &str, count: Option<u64>) -> std::result::Result<Shard, String> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let shard = if spec == "auto" {
            if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
                let min = var("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
                let total = var("SLURM_ARRAY_TASK_COUNT")
                    .or_else(|| var("SLURM_ARRAY_TASK_MAX").map(|max| max - min + 1))
                    .ok_or("SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT")?;
                Shard {
                    index: id
                        .checked_sub(min)
                        .ok_or("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?,
                    count: total,
                }
                .checked()?
            } else if let Some(index) = var("JOB_COMPLETION_INDEX") {
                let count = count.or_else(|| var("NARRATE_SHARD_COUNT")).ok_or(
                    "JOB_COMPLETION_INDEX is set: give the job's completions with --shard-count N or NARRATE_SHARD_COUNT",
                )?;
                Shard { index, count }.checked()?
            } else {
                return Err("--shard auto needs SLURM_ARRAY_TASK_ID (Slurm) or JOB_COMPLETION_INDEX (Kubernetes)".into());
            }
        } else {
            let (k, n) = spec
                .split_once('/')
                .ok_or("give the shard as K/N, e.g. 1/4, or auto")?;
            let k: u64 = k
                .trim()
                .parse()
                .map_err(|_| format!("bad shard number `{k}`"))?;
            let count: u64 = n
                .trim()
                .parse()
                .map_err(|_| format!("bad shard count `{n}`"))?;
            if k == 0 || k > count {
                return Err(format!(
                    "shard {k}/{count} is out of range: shards count from 1 to {count}"
                ));
            }
            Shard {
                index: k - 1,
                count,
            }
        };
        Ok(shard)
    }

    fn checked(self) -> std::result::Result<Shard, String> {
        if self.count == 0 || self.index >= self.count {
            return Err(format!(
                "the scheduler's index {} (from 0) is out of range for {} shards",
                self.index, self.count
            ));
        }
        Ok(self)
    }

    /// The shard as `K/N`, K from 1.
    pub(crate) fn label(&self) -> String {
        format!("{}/{}", self.index + 1, self.count)
    }

    /// Whether this shard synthesizes the segment with this cache key: the same answer on every machine.
    pub(crate) fn owns(&self, cache_key: &str) -> bool {
        u64::from_str_radix(&cache_key[..16], 16).unwrap_or(0) % self.count == self.index
    }
}
