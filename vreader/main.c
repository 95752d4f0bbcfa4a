/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid-vreader: virtual USB CCID readers with simulated cards, served over
 * USB/IP.  Each --profile or --descriptor adds a reader (bus ids 1-1, 1-2,
 * ...); --control PATH opens the control socket.  Prints one line
 * "listening on ADDR:PORT" on standard output when ready.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vreader/composite.h"
#include "vreader/control.h"
#include "vreader/device.h"
#include "vreader/usbip_server.h"

/* Long options without a short form. */
enum {
	OPT_UNCONFIGURED = 256,
	OPT_CONFIG_GATE,
	OPT_UNLINK_DELAY,
	OPT_BUSY_AFTER_CLOSE,
	OPT_T0_NULLS,
	OPT_T0_ACK_EACH,
	OPT_ATR,
	OPT_NO_CONFIG_NOTIFY,
};

static atomic_int stop;       /* set by on_signal (lock-free: usbip_server_run) */

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, 1);
}

static void usage(FILE *f)
{
	fputs("usage: uccid-vreader [OPTIONS]\n"
	      "  -p, --profile NAME      add a reader with a built-in profile (repeatable):\n"
	      "                          tpdu-t0, tpdu-t1, short-apdu, extended-apdu, multi-slot, mechanical,\n"
	      "                          char-t0 (character level), iccd-a, iccd-b (USB ICCD tokens on the control pipe)\n"
	      "  -d, --descriptor FILE   add a reader that declares and behaves as a real reader's\n"
	      "                          descriptor dump (the format of tests/data/readers/)\n"
	      "      --card t0|t1|both|both-t1  the protocols the cards of the next readers offer\n"
	      "                          (both: T=0 is the default, both-t1: T=1)\n"
	      "      --no-card           the next readers start with empty slots\n"
	      "      --atr HEX           the cards of the next readers send this ATR, defects and all\n"
	      "                          (TS 3B/3F, up to 48 bytes); they run what it offers\n"
	      "      --pin DIGITS        the cards' PIN (ASCII digits, default 123456)\n"
	      "      --mute-ms MS        how long a mute card takes to be reported (default 100)\n"
	      "      --no-interrupt      the next readers have no interrupt endpoint (hosts poll)\n"
	      "      --no-config-notify  the next readers send no NotifySlotChange when a host\n"
	      "                          configures them (QEMU's usb-ccid after a re-import)\n"
	      "      --card-voltages MASK  the next readers' cards answer only at these voltages\n"
	      "                          (bVoltageSupport bits: 1 5 V, 2 3 V, 4 1.8 V; 0 any)\n"
	      "      --t0-nulls N        character level: the next readers' cards send N NULL bytes (60)\n"
	      "                          before procedure bytes and SW1 (0 to 16)\n"
	      "      --t0-ack-each       character level: they ACK each data byte with INS ^ FF\n"
	      "  -l, --listen ADDR       listen address (default 127.0.0.1)\n"
	      "  -P, --port PORT         TCP port (default 3240; 0 picks a free one)\n"
	      "  -c, --control PATH      control socket (line protocol, see uccid-vreader(1))\n"
	      "USB/IP server behaviours met in the field (all readers):\n"
	      "      --usbip-unconfigured          list and import devices unconfigured, without\n"
	      "                                    interfaces (Linux's usbip-host after `usbip bind`)\n"
	      "      --usbip-config-gate           endpoints answer nothing until SET_CONFIGURATION\n"
	      "                                    (a device server that opens them then)\n"
	      "      --usbip-unlink-delay MS       send each RET_UNLINK MS late\n"
	      "      --usbip-busy-after-close MS   refuse imports as busy for MS after an importer left\n"
	      "  -v, --verbose           log every message on standard error\n"
	      "  -h, --help              this text\n"
	      "Without --profile or --descriptor, one tpdu-t1 reader is exported.\n",
	      f);
}

#define CARD_T1_FIRST 0x100     /* card_opts.protocols: T=1 is the default protocol */

struct card_opts {
	int protocols;          /* 0: the profile's; VCARD_PROTO_* | CARD_T1_FIRST */
	bool no_card;
	bool no_interrupt;
	bool no_config_notify;
	long card_voltages;     /* -1: the profile's */
	char pin[9];
	long mute_ms;
	long t0_nulls;          /* -1: the profile's */
	bool t0_ack_each;
	uint8_t atr[VCARD_ATR_MAX];     /* --atr; atr_len 0: the built ATR */
	size_t atr_len;
};

static void apply_card_opts(struct vdev_config *cfg, const struct card_opts *co)
{
	if (co->protocols) {
		uint8_t ta1 = cfg->card.ta1;
		uint16_t protocols = (uint16_t)(co->protocols & ~CARD_T1_FIRST);

		vcard_config_default(&cfg->card, protocols);
		cfg->card.ta1 = ta1;
		cfg->card.t1_first = co->protocols & CARD_T1_FIRST;
		cfg->desc.dwProtocols = protocols;
	}
	if (co->no_card)
		for (unsigned i = 0; i < VDEV_MAX_SLOTS; i++)
			cfg->card_present[i] = false;
	if (co->pin[0]) {
		cfg->card.pin_len = strlen(co->pin);
		memcpy(cfg->card.pin, co->pin, cfg->card.pin_len);
	}
	if (co->mute_ms >= 0)
		cfg->mute_ms = (uint32_t)co->mute_ms;
	if (co->atr_len && vcard_config_set_atr(&cfg->card, co->atr, co->atr_len) == 0)
		/* the reader runs what the card does, as --card makes it */
		cfg->desc.dwProtocols |= cfg->card.protocols;
	if (co->no_interrupt)
		cfg->no_interrupt = true;    /* a version A token has none of its own */
	cfg->no_config_notify = co->no_config_notify;
	if (co->card_voltages >= 0)
		cfg->card_voltages = (uint8_t)co->card_voltages;
	if (co->t0_nulls >= 0)
		cfg->card.t0_nulls = (uint8_t)co->t0_nulls;
	if (co->t0_ack_each)
		cfg->card.t0_ack_each = true;
}

struct adjust_ctx {
	const struct card_opts *co;
	unsigned n;                  /* the reader's number, for its serial */
};

/*
 * The readers the control socket knows: each exported one by its bus ID
 * (a composite's first CCID function), then every CCID function of a
 * composite with several as BUSID/INTERFACE, the name a host gives it
 * (usbip://HOST/BUSID/INTERFACE), as long as VCTL_MAX_READERS allows.
 * Returns how many.
 */
static unsigned control_readers(const struct vctl_reader *readers, struct vcomp *const *comps, unsigned n,
				struct vctl_reader *out)
{
	unsigned m = n;

	memcpy(out, readers, n * sizeof(*out));
	for (unsigned i = 0; i < n; i++) {
		for (unsigned k = 0; comps[i] && vcomp_nfunctions(comps[i]) > 1 && k < vcomp_nfunctions(comps[i]); k++) {
			uint8_t num, bin, bout, intr;

			if (m == VCTL_MAX_READERS) {
				fprintf(stderr, "uccid-vreader: reader %s/%u: no room on the control socket\n",
					readers[i].busid, k);
				continue;
			}
			if (vcomp_function_interface(comps[i], k, &num, &bin, &bout, &intr) < 0)
				continue;
			out[m].dev = vcomp_function(comps[i], k);
			snprintf(out[m].busid, sizeof(out[m].busid), "%.20s/%u", readers[i].busid, num);
			m++;
		}
	}
	return m;
}

/* Each CCID function of a --descriptor reader gets the card options and a serial of its own. */
static void adjust_descriptor(struct vdev_config *cfg, void *ctx)
{
	struct adjust_ctx *ac = ctx;
	size_t l = strlen(cfg->serial);

	apply_card_opts(cfg, ac->co);
	snprintf(cfg->serial + l, sizeof(cfg->serial) - l, "-%u", ac->n);
}

/* ", ATR 3B ..." of the card a configuration inserts, for scripts that check it. */
static void print_atr(const struct vcard_config *cfg)
{
	struct vcard *card = vcard_new(cfg);
	uint8_t atr[VCARD_ATR_MAX];
	int n = card ? vcard_reset(card, false, atr, sizeof(atr)) : -1;

	if (n > 0) {
		printf(", ATR");
		for (int i = 0; i < n; i++)
			printf(" %02X", atr[i]);
	}
	printf("\n");
	vcard_free(card);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "descriptor", required_argument, NULL, 'd' },
		{ "card", required_argument, NULL, 'C' },
		{ "no-card", no_argument, NULL, 'N' },
		{ "atr", required_argument, NULL, OPT_ATR },
		{ "pin", required_argument, NULL, 'I' },
		{ "mute-ms", required_argument, NULL, 'M' },
		{ "no-interrupt", no_argument, NULL, 'X' },
		{ "no-config-notify", no_argument, NULL, OPT_NO_CONFIG_NOTIFY },
		{ "card-voltages", required_argument, NULL, 'V' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'P' },
		{ "control", required_argument, NULL, 'c' },
		{ "t0-nulls", required_argument, NULL, OPT_T0_NULLS },
		{ "t0-ack-each", no_argument, NULL, OPT_T0_ACK_EACH },
		{ "usbip-unconfigured", no_argument, NULL, OPT_UNCONFIGURED },
		{ "usbip-config-gate", no_argument, NULL, OPT_CONFIG_GATE },
		{ "usbip-unlink-delay", required_argument, NULL, OPT_UNLINK_DELAY },
		{ "usbip-busy-after-close", required_argument, NULL, OPT_BUSY_AFTER_CLOSE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vctl_reader readers[VCTL_MAX_READERS], ctl_readers[VCTL_MAX_READERS];
	struct vcomp *comps[VCTL_MAX_READERS] = { NULL };  /* a reader's composite device, if it is one */
	unsigned nreaders = 0;
	struct card_opts co = { .mute_ms = -1, .card_voltages = -1, .t0_nulls = -1 };
	struct usbip_server_modes modes = { 0 };
	long ms;
	const char *listen_addr = "127.0.0.1", *control = NULL;
	long port = 3240;
	bool verbose = false;
	struct usbip_server *srv = NULL;
	struct vctl *ctl = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	int c, rc = 1, r;

	while ((c = getopt_long(argc, argv, "p:d:l:P:c:vh", longopts, NULL)) != -1) {
		struct vdev_config cfg;
		char err[512] = "";
		char *end;

		switch (c) {
		case 'p':
		case 'd':
			if (nreaders == VCTL_MAX_READERS) {
				fprintf(stderr, "uccid-vreader: at most %d readers\n", VCTL_MAX_READERS);
				goto out;
			}
			if (c == 'p') {
				r = vdev_profile_from_name(optarg);
				if (r < 0) {
					fprintf(stderr, "uccid-vreader: unknown profile '%s'\n", optarg);
					usage(stderr);
					goto out;
				}
				vdev_profile_config((enum vdev_profile)r, &cfg);
			} else {
				/* the whole configuration of the dump; a composite device where it has
				   several interfaces or one that is not interface 0 (composite.h) */
				struct adjust_ctx ac = { &co, nreaders + 1 };
				struct vcomp *comp = NULL;

				if (vcomp_from_reader_file(optarg, adjust_descriptor, &ac, &comp, err, sizeof(err)) < 0) {
					fprintf(stderr, "uccid-vreader: %s\n", err);
					goto out;
				}
				if (vcomp_is_plain(comp)) {
					readers[nreaders].dev = vcomp_take_plain(comp);
				} else {
					comps[nreaders] = comp;
					readers[nreaders].dev = vcomp_function(comp, 0);
				}
				snprintf(readers[nreaders].busid, sizeof(readers[nreaders].busid), "1-%u", nreaders + 1);
				nreaders++;
				break;
			}
			apply_card_opts(&cfg, &co);
			snprintf(cfg.serial + strlen(cfg.serial), sizeof(cfg.serial) - strlen(cfg.serial), "-%u",
				 nreaders + 1);
			readers[nreaders].dev = vdev_new(&cfg);
			if (!readers[nreaders].dev) {
				fprintf(stderr, "uccid-vreader: cannot create reader '%s': %s\n", optarg,
					strerror(errno));
				goto out;
			}
			snprintf(readers[nreaders].busid, sizeof(readers[nreaders].busid), "1-%u", nreaders + 1);
			nreaders++;
			break;
		case 'C':
			if (!strcmp(optarg, "t0"))
				co.protocols = 1;
			else if (!strcmp(optarg, "t1"))
				co.protocols = 2;
			else if (!strcmp(optarg, "both"))
				co.protocols = 3;
			else if (!strcmp(optarg, "both-t1"))
				co.protocols = 3 | CARD_T1_FIRST;
			else {
				fprintf(stderr, "uccid-vreader: --card takes t0, t1, both or both-t1, not '%s'\n",
					optarg);
				goto out;
			}
			break;
		case OPT_ATR:
			r = vcard_parse_hex(optarg, co.atr, sizeof(co.atr));
			if (r > 0) {
				struct vcard_config probe;

				vcard_config_default(&probe, VCARD_PROTO_T0);
				if (vcard_config_set_atr(&probe, co.atr, (size_t)r) < 0)
					r = -EBADMSG;
			}
			if (r <= 0) {
				fprintf(stderr, "uccid-vreader: --atr takes hex bytes beginning with TS 3B or 3F "
					"(at most %d bytes), not '%s'\n", VCARD_ATR_MAX, optarg);
				goto out;
			}
			co.atr_len = (size_t)r;
			break;
		case 'N':
			co.no_card = true;
			break;
		case 'X':
			co.no_interrupt = true;
			break;
		case OPT_NO_CONFIG_NOTIFY:
			co.no_config_notify = true;
			break;
		case 'V':
			co.card_voltages = strtol(optarg, &end, 0);
			if (!*optarg || *end || co.card_voltages < 0 || co.card_voltages > 7) {
				fprintf(stderr, "uccid-vreader: --card-voltages takes a mask of 1 (5 V), 2 (3 V), "
					"4 (1.8 V)\n");
				goto out;
			}
			break;
		case 'I':
			if (strlen(optarg) < 4 || strlen(optarg) > 8 || strspn(optarg, "0123456789") != strlen(optarg)) {
				fprintf(stderr, "uccid-vreader: --pin takes 4 to 8 digits\n");
				goto out;
			}
			snprintf(co.pin, sizeof(co.pin), "%s", optarg);
			break;
		case 'M':
			co.mute_ms = strtol(optarg, &end, 10);
			if (!*optarg || *end || co.mute_ms < 0 || co.mute_ms > 60000) {
				fprintf(stderr, "uccid-vreader: --mute-ms takes 0 to 60000\n");
				goto out;
			}
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'P':
			port = strtol(optarg, &end, 10);
			if (!*optarg || *end || port < 0 || port > 65535) {
				fprintf(stderr, "uccid-vreader: --port takes 0 to 65535, not '%s'\n", optarg);
				goto out;
			}
			break;
		case 'c':
			control = optarg;
			break;
		case OPT_T0_NULLS:
			co.t0_nulls = strtol(optarg, &end, 10);
			if (!*optarg || *end || co.t0_nulls < 0 || co.t0_nulls > 16) {
				fprintf(stderr, "uccid-vreader: --t0-nulls takes 0 to 16, not '%s'\n", optarg);
				goto out;
			}
			break;
		case OPT_T0_ACK_EACH:
			co.t0_ack_each = true;
			break;
		case OPT_UNCONFIGURED:
			modes.unconfigured = true;
			break;
		case OPT_CONFIG_GATE:
			modes.config_gate = true;
			break;
		case OPT_UNLINK_DELAY:
		case OPT_BUSY_AFTER_CLOSE:
			ms = strtol(optarg, &end, 10);
			if (!*optarg || *end || ms < 0 || ms > 600000) {
				fprintf(stderr, "uccid-vreader: --%s takes 0 to 600000 (ms), not '%s'\n",
					c == OPT_UNLINK_DELAY ? "usbip-unlink-delay" : "usbip-busy-after-close", optarg);
				goto out;
			}
			if (c == OPT_UNLINK_DELAY)
				modes.unlink_delay_ms = (unsigned)ms;
			else
				modes.busy_after_close_ms = (unsigned)ms;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "uccid-vreader: unexpected argument '%s'\n", argv[optind]);
		rc = 2;
		goto out;
	}
	if (nreaders == 0) {
		struct vdev_config cfg;

		vdev_profile_config(VDEV_PROFILE_TPDU_T1, &cfg);
		apply_card_opts(&cfg, &co);
		readers[0].dev = vdev_new(&cfg);
		if (!readers[0].dev) {
			fprintf(stderr, "uccid-vreader: cannot create the reader: %s\n", strerror(errno));
			goto out;
		}
		snprintf(readers[0].busid, sizeof(readers[0].busid), "1-1");
		nreaders = 1;
	}

	srv = usbip_server_new();
	if (!srv) {
		fprintf(stderr, "uccid-vreader: out of memory\n");
		goto out;
	}
	usbip_server_set_modes(srv, &modes);
	for (unsigned i = 0; i < nreaders; i++) {
		struct vusb_device dev = { .ops = &vdev_usb_ops, .dev = readers[i].dev };

		if (comps[i]) {
			dev.ops = &vcomp_usb_ops;
			dev.dev = comps[i];
		}

		snprintf(dev.busid, sizeof(dev.busid), "%s", readers[i].busid);
		if (verbose)
			vdev_set_log(readers[i].dev, stderr);
		if ((r = usbip_server_add_device(srv, &dev)) < 0) {
			fprintf(stderr, "uccid-vreader: cannot export %s: %s\n", dev.busid, strerror(-r));
			goto out;
		}
	}
	r = usbip_server_listen(srv, listen_addr, (uint16_t)port);
	if (r < 0) {
		fprintf(stderr, "uccid-vreader: cannot listen on %s:%ld: %s\n", listen_addr, port, strerror(-r));
		goto out;
	}
	ctl = vctl_new(ctl_readers, control_readers(readers, comps, nreaders, ctl_readers));
	if (!ctl) {
		fprintf(stderr, "uccid-vreader: out of memory\n");
		goto out;
	}
	if (control && (r = vctl_listen(ctl, control, srv)) < 0) {
		fprintf(stderr, "uccid-vreader: cannot open control socket %s: %s\n", control, strerror(-r));
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("listening on %s:%u\n", listen_addr, usbip_server_port(srv));
	for (unsigned i = 0; i < nreaders; i++) {
		printf("reader %s: %s, %u slot%s", readers[i].busid, vdev_config(readers[i].dev)->product,
		       vdev_nslots(readers[i].dev), vdev_nslots(readers[i].dev) == 1 ? "" : "s");
		print_atr(&vdev_config(readers[i].dev)->card);
	}
	fflush(stdout);
	r = usbip_server_run(srv, &stop);
	rc = r < 0 ? 1 : 0;
out:
	vctl_free(ctl);
	usbip_server_free(srv);
	for (unsigned i = 0; i < nreaders; i++) {
		if (comps[i])
			vcomp_free(comps[i]);      /* its functions with it */
		else
			vdev_free(readers[i].dev);
	}
	return rc;
}
