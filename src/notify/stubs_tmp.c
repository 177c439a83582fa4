#include "notify/internal.h"
const struct notify_ops notify_testrail_ops = {.type = "testrail_unbuilt"};
