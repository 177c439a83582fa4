/* slurm.h: a worker started inside a Slurm job (`dtf worker --slurm`, which the batch script of
 * `dtf slurm submit-workers` runs) offers the job's allocation, not the whole node: CPUs, memory
 * and GPUs from the environment Slurm gives the batch step, and labels that say which job,
 * partition and node it is. docs/deploy.md lists the variables read. */
#ifndef DTF_WORKER_SLURM_H
#define DTF_WORKER_SLURM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* True when this process runs inside a Slurm job (SLURM_JOB_ID is set). */
bool dtf_slurm_in_job(void);

/* Narrows caps (a capabilities object as dtf_hw_detect() builds it; borrowed, changed in place)
 * to the job's allocation:
 *   cpu.cores   SLURM_CPUS_ON_NODE, else SLURM_CPUS_PER_TASK, else the first count of
 *               SLURM_JOB_CPUS_PER_NODE ("4(x2),2" -> 4);
 *   memory      SLURM_MEM_PER_NODE, else SLURM_MEM_PER_CPU times the CPUs (MiB);
 *   gpus        the detected GPUs whose index is in SLURM_JOB_GPUS, else whose index or UUID is
 *               in CUDA_VISIBLE_DEVICES; none when neither is set (the job was given none);
 *               gpu_memory is summed again and "cuda" leaves hardware when none is left.
 * A variable that is absent or not a number leaves the detected value. Returns 0, or
 * DTF_ENOTFOUND outside a Slurm job (caps unchanged). */
int dtf_slurm_job_capabilities(json_t *caps);

/* Adds the job's labels to labels (an object; borrowed), each only where labels has no value for
 * its name yet (a --labels/--label the user gave wins): launcher=slurm, slurm_job_id,
 * slurm_job_name, slurm_array_job_id and slurm_array_task_id (array elements), slurm_partition,
 * slurm_node (SLURMD_NODENAME), slurm_cluster. Returns 0, DTF_ENOTFOUND outside a Slurm job, or
 * DTF_ENOMEM. */
int dtf_slurm_job_labels(json_t *labels);

/* Writes the worker id of this job into out: "slurm-<cluster>-<array job>_<task>" for an array
 * element ("slurm-<cluster>-<job>" otherwise; without "<cluster>-" when SLURM_CLUSTER_NAME is not
 * set or would make the id invalid), the name squeue shows, so that a requeued element comes
 * back under its id. Returns 0, or DTF_ENOTFOUND outside a Slurm job or when the id would not be
 * a valid worker id (dtf_valid_id). */
int dtf_slurm_worker_id(char *out, size_t len);

#endif
