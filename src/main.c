/* veer — command line and wiring only. */
#include "veer/common.h"
#include "veer/config.h"
#include "veer/log.h"
#include "veer/overrides.h"
#include "veer/registry.h"
#include "veer/worker.h"

#include <errno.h>
#include <grp.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include <event2/event.h>

static const char *const default_paths[] = { "config/veer.yaml", "/etc/veer/veer.yaml" };

static void usage(FILE *f)
{
	fprintf(f, "usage: veer [-c FILE] [-t] [--version] [--config-reference]\n"
		   "  -c FILE             config file (default config/veer.yaml, then /etc/veer/veer.yaml)\n"
		   "  -t                  check the config and exit (0 ok, 1 errors)\n"
		   "  --version           print versions and exit\n"
		   "  --config-reference  print the config key reference (markdown) and exit\n");
}

static void print_version(void)
{
	printf("veer %s\n", VEER_VERSION);
	printf("libevent %s\n", event_get_version());
	printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("libyaml %s\n", yaml_get_version_string());
	printf("llhttp %d.%d.%d\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
}

static const char *find_default(void)
{
	size_t i;

	for (i = 0; i < VEER_ARRAY_LEN(default_paths); i++)
		if (access(default_paths[i], R_OK) == 0)
			return default_paths[i];
	return default_paths[0];
}

/* global.user: after binding, drop root for good. */
static int drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL) {
		if (geteuid() == 0)
			veer_warn("running as root without global.user: consider dropping privileges");
		return VEER_OK;
	}
	if (geteuid() != 0) {
		veer_warn("global.user %s ignored: not started as root", user);
		return VEER_OK;
	}
	pw = getpwnam(user);
	if (pw == NULL) {
		veer_err("global.user: no such user %s", user);
		return VEER_ERR;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		veer_err("global.user %s: %s", user, strerror(errno));
		return VEER_ERR;
	}
	veer_info("running as %s (uid %u)", user, (unsigned)pw->pw_uid);
	return VEER_OK;
}

/* This binary's path, read at start: after an upgrade replaced the file,
 * the path names the new binary (SIGUSR2 execs it). */
static const char *self_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	char exe[4096];
	struct veer_process proc = { 0 };
	struct veer_errors errs = { 0 };
	struct veer_config *cfg;
	const char *path = NULL;
	bool check = false;
	size_t i;
	int rc = 1, a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-c") == 0 && a + 1 < argc) {
			path = argv[++a];
		} else if (strcmp(argv[a], "-t") == 0) {
			check = true;
		} else if (strcmp(argv[a], "--version") == 0 || strcmp(argv[a], "-v") == 0) {
			print_version();
			return 0;
		} else if (strcmp(argv[a], "--config-reference") == 0) {
			veer_config_reference(stdout);
			return 0;
		} else if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL)
		path = find_default();

	cfg = veer_config_load(path, &errs);
	if (cfg == NULL) {
		for (i = 0; i < errs.n; i++)
			fprintf(check ? stdout : stderr, "%s\n", errs.lines[i]);
		veer_errors_free(&errs);
		return 1;
	}
	if (check) {
		printf("%s: ok\n", path);
		rc = 0;
		goto out;
	}
	if (veer_log_open(cfg->global.log_level, cfg->global.log_error) != VEER_OK) {
		fprintf(stderr, "veer: log.error %s: %s\n", cfg->global.log_error, strerror(errno));
		goto out;
	}
	/* Writes to a vanished peer report EPIPE; they must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* A reload, reopen or upgrade signal that comes before the control
	 * loop's handlers exist is ignored, not fatal. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);

	memset(&proc, 0, sizeof(proc));
	proc.done_fd = -1;
	proc.config_path = path;
	pthread_mutex_init(&proc.free_lock, NULL);
	proc.registry = veer_registry_new();
	proc.overrides = veer_overrides_new();
	/* The process loads its own generation 1 (file text kept for the
	 * admin API); the check above only vouched for the file. */
	if (veer_config_unref(cfg))
		veer_config_free(cfg);
	cfg = NULL;
	if (veer_process_load(&proc, &errs) != VEER_OK) {
		for (i = 0; i < errs.n; i++)
			veer_err("%s", errs.lines[i]);
		veer_errors_free(&errs);
		goto out;
	}
	cfg = proc.config; /* the process owns the reference from here */
	proc.nworkers = cfg->global.workers;
	proc.argv = argv;
	proc.exe = self_path(exe, sizeof(exe));
	veer_sockets_import(&proc.inherited);
	if (veer_listeners_bind(&proc) != VEER_OK ||
	    drop_privileges(cfg->global.user) != VEER_OK) {
		veer_listeners_close(&proc);
		goto out;
	}
	rc = veer_process_run(&proc);
	cfg = proc.config; /* reloads replace it */
out:
	if (cfg != NULL && veer_config_unref(cfg))
		veer_config_free(cfg);
	if (proc.file_config != NULL && veer_config_unref(proc.file_config))
		veer_config_free(proc.file_config);
	free(proc.config_text);
	/* On a failed start the socket copies kept for SIGUSR2 are still here
	 * (veer_process_run frees them otherwise). */
	veer_sockets_free(&proc.sockets);
	veer_sockets_free(&proc.inherited);
	veer_overrides_free(proc.overrides);
	/* Last: configs point into the registry. */
	veer_registry_free(proc.registry);
	return rc;
}
