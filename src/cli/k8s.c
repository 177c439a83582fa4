/* k8s.c: `dtf k8s manifest`: prints the Kubernetes objects that run dtf workers: a Secret with the
 * enrollment key (mounted as a file, so the key is on no process's argv or environment) and a
 * Deployment whose pods run `dtf worker`. The worker drains on SIGTERM, which is what the kubelet
 * sends when a pod is deleted, so the grace period is the drain's bound plus a margin and no
 * preStop hook is needed. Nothing is sent to a cluster: pipe the output to kubectl apply -f -.
 * docs/deploy.md. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

#define KEY_FILE_CAP  4096 /* the enrollment key file (the worker reads its first line) */
#define CA_FILE_CAP   (1u << 20)
#define GRACE_MARGIN  10 /* s between the worker's drain bound and the kubelet's SIGKILL */
#define MOUNT_DIR     "/var/run/dtf"
#define WORK_DIR      "/var/lib/dtf"
#define NAME_DEFAULT  "dtf-worker"
#define IMAGE_DEFAULT "dtf:latest"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: dtf k8s manifest --coordinator URL [options] > workers.yaml\n"
	    "\n"
	    "Prints a Secret (the enrollment key, mounted as a file) and a Deployment whose pods\n"
	    "run `dtf worker`; apply it with `kubectl apply -f workers.yaml`. Deleting a pod\n"
	    "(a scale-down, a rollout, a node drain) sends the worker SIGTERM: it finishes its\n"
	    "running tasks within --drain-timeout and leaves.\n"
	    "  --coordinator URL      the coordinator as the pods reach it (default\n"
	    "                         $DTF_COORDINATOR)\n"
	    "  --workers N            replicas (default 1)\n"
	    "  --image IMG            an image holding the dtf binary and what the tasks need\n"
	    "                         (default " IMAGE_DEFAULT ")\n"
	    "  --cpu C                CPU request and limit (2, 500m); the worker offers as much\n"
	    "  --memory M             memory request and limit (4Gi, 512Mi); offered likewise\n"
	    "  --gpus G               nvidia.com/gpu limit\n"
	    "  --slots S              tasks each worker runs at once (default 1)\n"
	    "  --drain-timeout S      the worker's bound on its drain (default 30);\n"
	    "                         terminationGracePeriodSeconds is S + %d\n"
	    "  --labels k=v,…         more worker labels (launcher=kubernetes, k8s_pod, k8s_node\n"
	    "                         and k8s_namespace are always set)\n"
	    "  --enroll-key-file F    put this key in the Secret (else a placeholder to fill in)\n"
	    "  --ca-cert F            the CA of the coordinator's certificate, put in the Secret\n"
	    "  --namespace NS         the objects' namespace (default: kubectl's)\n"
	    "  --name NAME            the objects' name (default " NAME_DEFAULT ")\n",
	    GRACE_MARGIN);
}

/* Appends s as a YAML double-quoted scalar: \\ and " escaped, control characters as \\xXX; the
 * rest (UTF-8 included) as it is. */
static int yaml_str(struct dtf_buf *b, const char *s)
{
	int rc = dtf_buf_adds(b, "\"");

	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if (*p == '"' || *p == '\\')
			rc = dtf_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			rc = dtf_buf_printf(b, "\\x%02x", *p);
		else
			rc = dtf_buf_add(b, p, 1);
	}
	return rc ? rc : dtf_buf_adds(b, "\"");
}

/* A Kubernetes CPU quantity ("2", "1.5", "500m") in cores; -1 when it is not one. */
static double cpu_cores(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v > 0) || *s < '0' || *s > '9')
		return -1;
	if (strcmp(end, "m") == 0)
		v /= 1000;
	else if (*end)
		return -1;
	return v > 0 && v <= 65536 ? v : -1;
}

/* A Kubernetes memory quantity ("4Gi", "512Mi", "1G", "1e9", "268435456") in MiB (rounded down);
 * -1 when it is not one or is below 1 MiB. */
static long long memory_mib(const char *s)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
	    {"", 1},	       {"k", 1e3},	     {"M", 1e6},
	    {"G", 1e9},	       {"T", 1e12},	     {"Ki", 1024.0},
	    {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
	};
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v > 0) || *s < '0' || *s > '9')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			double mib = floor(v * units[i].mult / 1048576.0);
			return mib >= 1 && mib <= 1099511627776.0 ? (long long)mib : -1;
		}
	}
	return -1;
}

/* A DNS-1123 label (a Kubernetes object name or namespace): 1-63 of [a-z0-9-], alphanumeric at
 * both ends. max leaves room for the suffixes a Deployment adds to its pods' names. */
static bool dns_label(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Appends the base64 of a file's contents (at most cap bytes); prints the reason on failure. */
static int add_file_b64(struct dtf_buf *b, const char *flag, const char *path, size_t cap)
{
	char *data = NULL, *enc = NULL;
	size_t len = 0;
	int rc;

	rc = dtf_read_file(path, cap, &data, &len);
	if (rc) {
		fprintf(stderr, "dtf k8s: cannot read %s %s: %s\n", flag, path, dtf_strerror(rc));
		return rc;
	}
	if (len == 0) {
		fprintf(stderr, "dtf k8s: %s %s is empty\n", flag, path);
		free(data);
		return DTF_EINVAL;
	}
	enc = malloc(4 * ((len + 2) / 3) + 1);
	if (!enc) {
		free(data);
		return DTF_ENOMEM;
	}
	EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)data, (int)len);
	rc = dtf_buf_adds(b, enc);
	free(enc);
	/* The key's bytes are not left in freed memory longer than needed. */
	memset(data, 0, len);
	free(data);
	return rc;
}

struct manifest_opts {
	const char *coordinator, *image, *cpu, *memory, *labels, *key_file, *ca_file;
	const char *ns, *name;
	long workers, gpus, slots;
	double drain_timeout;
};

/* The metadata lines of an object (name, namespace, labels) at two spaces' indent. */
static void metadata(struct dtf_buf *b, const struct manifest_opts *o, const char *name)
{
	dtf_buf_printf(b, "metadata:\n  name: %s\n", name);
	if (o->ns)
		dtf_buf_printf(b, "  namespace: %s\n", o->ns);
	dtf_buf_printf(b,
		       "  labels:\n"
		       "    app.kubernetes.io/name: %s\n"
		       "    app.kubernetes.io/component: worker\n"
		       "    app.kubernetes.io/managed-by: dtf\n",
		       o->name);
}

/* One item of the container's command list. */
static void arg(struct dtf_buf *b, const char *s)
{
	dtf_buf_adds(b, "        - ");
	yaml_str(b, s);
	dtf_buf_adds(b, "\n");
}

static int manifest(const struct manifest_opts *o)
{
	struct dtf_buf b;
	char secret[128], num[64];
	double cores = 0;
	long long mib = 0;
	int rc = 2;

	dtf_buf_init(&b, 4u << 20);
	if (!o->coordinator || !*o->coordinator) {
		fprintf(stderr, "dtf k8s: manifest needs --coordinator URL (or $DTF_COORDINATOR): "
				"the URL the pods reach the coordinator at\n");
		goto out;
	}
	/* Bounded inputs keep the manifest far below its buffer's cap (the CA file's base64 is
	 * the largest part), so no line of it can be cut off. */
	if (strlen(o->coordinator) > 4096 || strlen(o->image) > 4096 ||
	    (o->labels && strlen(o->labels) > 65536)) {
		fprintf(stderr, "dtf k8s: --coordinator and --image take at most 4096 bytes, "
				"--labels 65536\n");
		goto out;
	}
	if (!dns_label(o->name, 40)) {
		fprintf(stderr, "dtf k8s: --name wants 1-40 of [a-z0-9-] (a Kubernetes name)\n");
		goto out;
	}
	if (o->ns && !dns_label(o->ns, 63)) {
		fprintf(stderr, "dtf k8s: --namespace wants 1-63 of [a-z0-9-]\n");
		goto out;
	}
	if (o->cpu && (cores = cpu_cores(o->cpu)) < 0) {
		fprintf(stderr, "dtf k8s: --cpu wants a CPU quantity (2, 1.5, 500m)\n");
		goto out;
	}
	if (o->memory && (mib = memory_mib(o->memory)) < 0) {
		fprintf(stderr, "dtf k8s: --memory wants a memory quantity of 1Mi or more (4Gi, "
				"512Mi, 1G)\n");
		goto out;
	}
	snprintf(secret, sizeof(secret), "%s-enroll", o->name);
	rc = 1;
	dtf_buf_adds(&b, "# dtf workers (dtf k8s manifest). Apply: kubectl apply -f FILE\n"
			 "# The enrollment key the workers register with, mounted as a file.\n"
			 "apiVersion: v1\nkind: Secret\n");
	metadata(&b, o, secret);
	dtf_buf_adds(&b, "type: Opaque\n");
	if (o->key_file || o->ca_file) {
		dtf_buf_adds(&b, "data:\n");
		if (o->key_file) {
			dtf_buf_adds(&b, "  enroll-key: ");
			if (add_file_b64(&b, "--enroll-key-file", o->key_file, KEY_FILE_CAP))
				goto out;
			dtf_buf_adds(&b, "\n");
		}
		if (o->ca_file) {
			dtf_buf_adds(&b, "  ca.crt: ");
			if (add_file_b64(&b, "--ca-cert", o->ca_file, CA_FILE_CAP))
				goto out;
			dtf_buf_adds(&b, "\n");
		}
	}
	if (!o->key_file)
		dtf_buf_adds(
		    &b, "# Put a worker-enroll key here (dtf keys add NAME worker-enroll), or\n"
			"# run dtf k8s manifest --enroll-key-file F.\n"
			"stringData:\n"
			"  enroll-key: \"REPLACE-WITH-A-WORKER-ENROLL-KEY\"\n");
	dtf_buf_adds(&b, "---\napiVersion: apps/v1\nkind: Deployment\n");
	metadata(&b, o, o->name);
	dtf_buf_printf(
	    &b,
	    "spec:\n"
	    "  replicas: %ld\n"
	    "  selector:\n"
	    "    matchLabels:\n"
	    "      app.kubernetes.io/name: %s\n"
	    "  template:\n"
	    "    metadata:\n"
	    "      labels:\n"
	    "        app.kubernetes.io/name: %s\n"
	    "        app.kubernetes.io/component: worker\n"
	    "    spec:\n"
	    "      # Deleting a pod sends the worker SIGTERM: it drains (finishes its running\n"
	    "      # tasks, takes no new ones) for at most --drain-timeout, then stops them\n"
	    "      # (the coordinator requeues them) and exits. No preStop hook is needed; "
	    "the\n"
	    "      # grace period covers the drain and the last results' delivery.\n"
	    "      terminationGracePeriodSeconds: %.0f\n"
	    "      containers:\n"
	    "      - name: worker\n"
	    "        image: ",
	    o->workers, o->name, o->name, ceil(o->drain_timeout) + GRACE_MARGIN);
	yaml_str(&b, o->image);
	dtf_buf_adds(&b, "\n        command:\n");
	arg(&b, "dtf");
	arg(&b, "worker");
	arg(&b, "--coordinator");
	arg(&b, o->coordinator);
	arg(&b, "--enroll-key-file");
	arg(&b, MOUNT_DIR "/enroll-key");
	if (o->ca_file) {
		arg(&b, "--ca-cert");
		arg(&b, MOUNT_DIR "/ca.crt");
	}
	/* The pod's name is unique while it lives: the worker's id, and the kubelet expands
	 * $(VAR) from the container's environment below. */
	arg(&b, "--worker-id");
	arg(&b, "$(POD_NAME)");
	arg(&b, "--work-dir");
	arg(&b, WORK_DIR "/work");
	arg(&b, "--slots");
	snprintf(num, sizeof(num), "%ld", o->slots);
	arg(&b, num);
	arg(&b, "--drain-timeout");
	snprintf(num, sizeof(num), "%g", o->drain_timeout);
	arg(&b, num);
	if (o->cpu) {
		arg(&b, "--cpus");
		snprintf(num, sizeof(num), "%g", cores);
		arg(&b, num);
	}
	if (o->memory) {
		arg(&b, "--memory");
		snprintf(num, sizeof(num), "%lld", mib);
		arg(&b, num);
	}
	arg(&b, "--labels");
	arg(&b, "launcher=kubernetes,k8s_pod=$(POD_NAME),k8s_node=$(NODE_NAME),"
		"k8s_namespace=$(POD_NAMESPACE)");
	if (o->labels) {
		arg(&b, "--labels");
		arg(&b, o->labels);
	}
	dtf_buf_adds(&b, "        env:\n"
			 "        - name: POD_NAME\n"
			 "          valueFrom:\n"
			 "            fieldRef:\n"
			 "              fieldPath: metadata.name\n"
			 "        - name: POD_NAMESPACE\n"
			 "          valueFrom:\n"
			 "            fieldRef:\n"
			 "              fieldPath: metadata.namespace\n"
			 "        - name: NODE_NAME\n"
			 "          valueFrom:\n"
			 "            fieldRef:\n"
			 "              fieldPath: spec.nodeName\n");
	if (o->cpu || o->memory || o->gpus > 0) {
		const char *sect[] = {"requests", "limits"};
		dtf_buf_adds(&b, "        resources:\n");
		for (int i = 0; i < 2; i++) {
			/* GPUs are limits only: Kubernetes sets the request to the limit. */
			if (!o->cpu && !o->memory && i == 0)
				continue;
			dtf_buf_printf(&b, "          %s:\n", sect[i]);
			if (o->cpu) {
				dtf_buf_adds(&b, "            cpu: ");
				yaml_str(&b, o->cpu);
				dtf_buf_adds(&b, "\n");
			}
			if (o->memory) {
				dtf_buf_adds(&b, "            memory: ");
				yaml_str(&b, o->memory);
				dtf_buf_adds(&b, "\n");
			}
			if (i == 1 && o->gpus > 0)
				dtf_buf_printf(&b, "            nvidia.com/gpu: %ld\n", o->gpus);
		}
	}
	dtf_buf_printf(&b,
		       "        volumeMounts:\n"
		       "        - name: enroll-key\n"
		       "          mountPath: " MOUNT_DIR "\n"
		       "          readOnly: true\n"
		       "        - name: work\n"
		       "          mountPath: " WORK_DIR "\n"
		       "      volumes:\n"
		       "      - name: enroll-key\n"
		       "        secret:\n"
		       "          secretName: %s\n"
		       "          defaultMode: 256 # 0400: the key is read by the worker only\n"
		       "      - name: work\n"
		       "        emptyDir: {}\n",
		       secret);
	fputs(dtf_buf_str(&b), stdout);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	dtf_buf_release(&b);
	return rc;
}

enum {
	OPT_WORKERS = 0x7400,
	OPT_IMAGE,
	OPT_COORD,
	OPT_CPU,
	OPT_MEMORY,
	OPT_GPUS,
	OPT_SLOTS,
	OPT_DRAIN,
	OPT_LABELS,
	OPT_KEYFILE,
	OPT_CACERT,
	OPT_NS,
	OPT_NAME,
};

int cmd_k8s(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"workers", required_argument, NULL, OPT_WORKERS},
	    {"image", required_argument, NULL, OPT_IMAGE},
	    {"coordinator", required_argument, NULL, OPT_COORD},
	    {"cpu", required_argument, NULL, OPT_CPU},
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"gpus", required_argument, NULL, OPT_GPUS},
	    {"slots", required_argument, NULL, OPT_SLOTS},
	    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
	    {"labels", required_argument, NULL, OPT_LABELS},
	    {"enroll-key-file", required_argument, NULL, OPT_KEYFILE},
	    {"ca-cert", required_argument, NULL, OPT_CACERT},
	    {"namespace", required_argument, NULL, OPT_NS},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct manifest_opts o = {.image = IMAGE_DEFAULT,
				  .name = NAME_DEFAULT,
				  .workers = 1,
				  .slots = 1,
				  .drain_timeout = 30};
	int opt;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "manifest") != 0) {
		fprintf(stderr, "dtf k8s: unknown action '%s' (manifest)\n", argv[1]);
		return 2;
	}
	argc--;
	argv++;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_WORKERS:
			if (!cli_parse_long("k8s", "--workers", optarg, 0, 100000, &o.workers))
				return 2;
			break;
		case OPT_GPUS:
			if (!cli_parse_long("k8s", "--gpus", optarg, 0, 1024, &o.gpus))
				return 2;
			break;
		case OPT_SLOTS:
			if (!cli_parse_long("k8s", "--slots", optarg, 1, 4096, &o.slots))
				return 2;
			break;
		case OPT_DRAIN:
			if (dtf_parse_seconds(optarg, &o.drain_timeout) != 0 ||
			    o.drain_timeout < 0 || o.drain_timeout > 1e6) {
				fprintf(stderr,
					"dtf k8s: --drain-timeout wants seconds (30, 2m)\n");
				return 2;
			}
			break;
		case OPT_IMAGE:
			o.image = optarg;
			break;
		case OPT_COORD:
			o.coordinator = optarg;
			break;
		case OPT_CPU:
			o.cpu = optarg;
			break;
		case OPT_MEMORY:
			o.memory = optarg;
			break;
		case OPT_LABELS:
			o.labels = optarg;
			break;
		case OPT_KEYFILE:
			o.key_file = optarg;
			break;
		case OPT_CACERT:
			o.ca_file = optarg;
			break;
		case OPT_NS:
			o.ns = optarg;
			break;
		case OPT_NAME:
			o.name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dtf k8s: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o.coordinator)
		o.coordinator = getenv("DTF_COORDINATOR");
	return manifest(&o);
}
