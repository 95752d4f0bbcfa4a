/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid list: the CCID readers on this machine's USB buses, or those a
 * USB/IP server exports (uccid list usbip://HOST[:PORT]), each with the
 * names uccid and pcscd open it by.  Also the choice of reader when
 * --reader is not given: the only one present, or an error listing them.
 * With --watch, the readers present and then each arrival and removal.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/usb_desc.h"
#include "transport/libusb.h"
#include "tool/tool.h"
#include "transport/usbip_client.h"

#define LIST_MAX 64
#define LIST_TIMEOUT_MS 5000

static int list_usbip(const struct tool_opts *o, const char *url)
{
	struct uccid_usbip_device *devs = calloc(LIST_MAX, sizeof(*devs));
	char host[UCCID_USBIP_HOST_MAX + 3], busid[UCCID_USBIP_BUSID_MAX + 1], err[256] = "", full[300];
	uint16_t port = UCCID_USBIP_DEFAULT_PORT;
	int n, rc = EXIT_OK;

	if (!devs)
		return EXIT_FAILED;
	/* "usbip://HOST[:PORT]" with an optional trailing "/": borrow the URL parser with a dummy bus id */
	snprintf(full, sizeof(full), "%s%s0-0", url, url[strlen(url) - 1] == '/' ? "" : "/");
	if (uccid_usbip_parse_url(full, host, sizeof(host), &port, busid, sizeof(busid)) < 0) {
		tool_err("list: '%s' is not usbip://HOST[:PORT]", url);
		free(devs);
		return EXIT_USAGE;
	}
	n = uccid_usbip_list(host, port, devs, LIST_MAX, LIST_TIMEOUT_MS, err, sizeof(err));
	if (n < 0) {
		tool_err("list: %s", err[0] ? err : strerror(-n));
		free(devs);
		return EXIT_FAILED;
	}
	if (o->json)
		printf("[");
	for (int i = 0; i < n && i < LIST_MAX; i++) {
		const struct uccid_usbip_device *d = &devs[i];
		const char *kind = d->ccid == UCCID_USBIP_CCID ? "CCID reader"
				   : d->ccid == UCCID_USBIP_MAYBE_CCID ? "vendor class (maybe a CCID reader)"
								       : "not a CCID reader";
		bool v6 = strchr(host, ':') != NULL;
		unsigned nccid;

		if (o->json) {
			printf("%s{\"name\":\"usbip://%s%s%s:%u/%s\",\"vendor\":\"%04x\",\"product\":\"%04x\",\"ccid\":%s}",
			       i ? "," : "", v6 ? "[" : "", host, v6 ? "]" : "", port, d->busid, d->idVendor, d->idProduct,
			       d->ccid == UCCID_USBIP_NOT_CCID ? "false" : "true");
			continue;
		}
		printf("usbip://%s%s%s:%u/%s  %04x:%04x  %s", v6 ? "[" : "", host, v6 ? "]" : "", port, d->busid,
		       d->idVendor, d->idProduct, kind);
		/* a name reaches the first CCID interface; the others by their number (ACR1251 Dual's PIN pad) */
		nccid = 0;
		for (unsigned k = 0; k < d->ninterfaces && k < UCCID_USBIP_MAX_INTERFACES; k++)
			nccid += d->intf[k].bInterfaceClass == CCID_USB_CLASS_SMART_CARD;
		if (nccid > 1)
			printf(", %u CCID interfaces (%s/INTERFACE: the one of that number)", nccid, d->busid);
		printf("\n");
	}
	if (o->json)
		printf("]\n");
	else if (n == 0)
		printf("no device exported by %s:%u\n", host, port);
	free(devs);
	return rc;
}

static int list_usb(const struct tool_opts *o)
{
	struct uccid_libusb_reader *rd = calloc(LIST_MAX, sizeof(*rd));
	char err[256] = "";
	int n;

	if (!rd)
		return EXIT_FAILED;
	n = uccid_libusb_list(rd, LIST_MAX, err, sizeof(err));
	if (n < 0) {
		tool_err("list: %s", err[0] ? err : strerror(-n));
		free(rd);
		return EXIT_FAILED;
	}
	if (o->json)
		printf("[");
	for (int i = 0; i < n && i < LIST_MAX; i++) {
		const struct uccid_libusb_reader *r = &rd[i];

		if (o->json) {
			printf("%s{\"name\":\"%s\",\"vendor\":\"%04x\",\"product\":\"%04x\",\"serial\":", i ? "," : "",
			       r->name_libusb, r->idVendor, r->idProduct);
			json_string(stdout, r->serial);
			printf(",\"product_name\":");
			json_string(stdout, r->product);
			printf(",\"names\":[\"%s\",\"%s\",\"%s\"%s%s%s]}", r->name_id, r->name_bus_addr, r->name_libudev,
			       r->name_serial[0] ? ",\"" : "", r->name_serial, r->name_serial[0] ? "\"" : "");
			continue;
		}
		printf("%s  %s%s(%04x:%04x), interface %u, %u slot%s\n", r->name_libusb, r->product,
		       r->product[0] ? " " : "", r->idVendor, r->idProduct, r->interface, r->bMaxSlotIndex + 1u,
		       r->bMaxSlotIndex ? "s" : "");
		printf("    also: %s  %s  %s%s%s\n", r->name_id, r->name_bus_addr, r->name_libudev,
		       r->name_serial[0] ? "  " : "", r->name_serial);
	}
	if (o->json)
		printf("]\n");
	else if (n == 0)
		printf("no CCID reader on the USB buses (for a USB/IP server: uccid list usbip://HOST)\n");
	free(rd);
	return EXIT_OK;
}

static volatile sig_atomic_t watch_stop;

static void on_watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/* One line per event: "+ NAME  PRODUCT (VVVV:PPPP)" or "- NAME ..."; JSON: one object per line. */
static bool watch_print(void *arg, bool arrived, const struct uccid_libusb_reader *r)
{
	const struct tool_opts *o = arg;

	if (o->json) {
		printf("{\"event\":\"%s\",\"name\":\"%s\",\"vendor\":\"%04x\",\"product\":\"%04x\",\"serial\":",
		       arrived ? "arrived" : "left", r->name_libusb, r->idVendor, r->idProduct);
		json_string(stdout, r->serial);
		printf("}\n");
	} else {
		printf("%c %s  %s%s(%04x:%04x), interface %u\n", arrived ? '+' : '-', r->name_libusb, r->product,
		       r->product[0] ? " " : "", r->idVendor, r->idProduct, r->interface);
	}
	fflush(stdout);
	return false;
}

/* uccid list --watch: the readers present, then arrivals and removals until SIGINT / SIGTERM. */
static int watch_usb(const struct tool_opts *o)
{
	struct sigaction sa = { .sa_handler = on_watch_signal }, old_int, old_term;
	char err[256] = "";
	int n;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* on stderr, as the one line that is not an event: it says from when a signal ends the watch */
	fprintf(stderr, "uccid: watching the USB buses for CCID readers until interrupted\n");
	n = uccid_libusb_watch(watch_print, (void *)o, 0, &watch_stop, err, sizeof(err));
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (n < 0) {
		tool_err("list --watch: %s", err[0] ? err : strerror(-n));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static const struct tool_opt list_opts[] = {
	{ "watch", no_argument, 'w', 0, NULL, "then each arrival (+) and removal (-) of a reader, until interrupted" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_list = {
	"list", cmd_list, "the CCID readers on the USB buses, or on a USB/IP server (list usbip://HOST)",
	"uccid list [--json] [--watch | usbip://HOST[:PORT]]", list_opts, NULL,
};

int cmd_list(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	struct tool_opts o = *opts;
	const char *url = NULL;
	bool watch = false;
	int c;

	tool_getopt_init(list_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'w':
			watch = true;
			break;
		default:
			return tool_bad_option("list", argv);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (!strncmp(argv[i], "usbip://", 8) && !url) {
			url = argv[i];
		} else {
			tool_err("list: unexpected '%s' (usage: %s)", argv[i], tool_cmd_list.synopsis);
			return EXIT_USAGE;
		}
	}
	if (watch && url) {
		tool_err("list: --watch is for the USB buses, not a USB/IP server");
		return EXIT_USAGE;
	}
	if (watch)
		return watch_usb(&o);
	return url ? list_usbip(&o, url) : list_usb(&o);
}


