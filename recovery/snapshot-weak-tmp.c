/* TEMPORARY (lead): weak placeholders until recovery/snapshot.c lands; removed then. */
#include "snapshot.h"
__attribute__((weak)) int snapshot_content_changed(int root_fd, const Policy *p, const Component *c, bool *ret_changed, uint64_t *u) { *ret_changed = true; *u = now_realtime_usec(); return 0; }
__attribute__((weak)) int snapshot_create_if_changed(int root_fd, const Policy *p, const Component *c, bool *ret_created, char **ret_id) { *ret_created = false; *ret_id = NULL; return 0; }
__attribute__((weak)) int snapshot_list(int root_fd, const Policy *p, const char *component, SnapshotInfo **ret, size_t *ret_n) { *ret = NULL; *ret_n = 0; return 0; }
__attribute__((weak)) void snapshot_info_free(SnapshotInfo *list, size_t n) {}
__attribute__((weak)) int snapshot_restore(int root_fd, const Policy *p, const Component *c, const char *id, uint64_t before_usec, const char *keep_dir, char **ret_id) { return -ENOENT; }
__attribute__((weak)) int snapshot_recover_interrupted(int root_fd, const Policy *p) { return 0; }
