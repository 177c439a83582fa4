/* log.h: leveled logging to stderr, with the process's role as prefix. Thread-safe. */
#ifndef DTF_LOG_H
#define DTF_LOG_H

enum dtf_log_level { DTF_LOG_DEBUG, DTF_LOG_INFO, DTF_LOG_WARN, DTF_LOG_ERROR };

/* Sets the prefix ("coordinator", "worker-1") and the least level printed. */
void dtf_log_setup(const char *role, enum dtf_log_level level);
/* Sets the least level printed; DTF_LOG=debug in the environment also does. */
void dtf_log_set_level(enum dtf_log_level level);
void dtf_log(enum dtf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) dtf_log(DTF_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  dtf_log(DTF_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  dtf_log(DTF_LOG_WARN, __VA_ARGS__)
#define log_error(...) dtf_log(DTF_LOG_ERROR, __VA_ARGS__)

#endif
