#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside the guest: the libusb transport against real kernel USB devices.
# First uccid-vreader (short-apdu profile, control socket) attached through
# vhci-hcd, unplugged with usbip detach while a bulk-IN waits; then QEMU's
# usb-ccid reader with its emulated card when it is on the bus, unplugged
# through sysfs ("remove", a logical disconnect).  Settings come from
# /hilout/config.sh (VREADER, CHECK).  Exit status: number of failed runs.
O=/hilout
. $O/config.sh
now() { cut -d' ' -f1 /proc/uptime; }
ip link set lo up
modprobe vhci-hcd 2>/dev/null
failed=0
summary=$O/summary.txt
: > $summary
note() { echo "$*"; echo "$*" >> $summary; }

wait_for() {  # wait_for TENTHS COMMAND...
	n=$1; shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

# run_check LOG READY UNPLUG-COMMAND CHECK-ARGS...: runs the program, and
# once it says a bulk-IN waits (READY exists) unplugs the device.
run_check() {
	log=$1 ready=$2 unplug=$3; shift 3
	rm -f "$ready"
	"$CHECK" --unplug-ready "$ready" "$@" > $log 2>&1 &
	pid=$!
	if wait_for 1200 test -e "$ready"; then
		sleep 0.5   # the bulk-IN is submitted right after the file appears
		echo "unplug: $unplug ($(now)s)" >> $log.unplug
		sh -c "$unplug" >> $log.unplug 2>&1
	fi
	wait $pid
	rc=$?
	grep -E '^(FAIL|[0-9]+ passed)' $log
	return $rc
}

echo "== uccid-vreader through vhci-hcd ($(now)s)"
"$VREADER" ${VREADER_ARGS:-} --profile short-apdu --port 3240 --control /run/vr.sock > $O/vreader.log 2>&1 &
vr=$!
if ! wait_for 50 grep -q '^listening' $O/vreader.log; then
	note "vreader: FAIL uccid-vreader did not start"; cat $O/vreader.log; failed=$((failed + 1))
else
	usbip attach -r 127.0.0.1 -b 1-1 || note "vreader: usbip attach failed"
	wait_for 50 sh -c 'lsusb | grep -q 1209:0001' || note "vreader: the device did not appear"
	port=$(usbip port 2>/dev/null | sed -n 's/^Port \([0-9]*\):.*in Use.*/\1/p' | head -1)
	usbip port > $O/vreader.usbip-port.txt 2>&1
	lsusb -t > $O/vreader.lsusb-t.txt 2>&1
	if run_check $O/check-vreader.log /run/unplug-vr "usbip detach -p ${port:-0}" \
		--id usb:1209/0001 --xfr echo --control /run/vr.sock; then
		note "vreader: ok ($(tail -1 $O/check-vreader.log))"
	else
		note "vreader: FAIL ($(tail -1 $O/check-vreader.log))"; failed=$((failed + 1))
	fi
fi
kill $vr 2>/dev/null; wait $vr 2>/dev/null

if wait_for 20 sh -c 'lsusb | grep -q 08e6:4433'; then
	echo "== QEMU usb-ccid ($(now)s)"
	dev=$(dirname "$(grep -l 4433 /sys/bus/usb/devices/*/idProduct | head -1)")
	lsusb -v -d 08e6:4433 > $O/qemu-ccid.lsusb-v.txt 2>&1
	if run_check $O/check-qemu-ccid.log /run/unplug-qemu "echo 1 > $dev/remove" \
		--id usb:08e6/4433 --xfr select-t0 --no-abort; then
		note "qemu-ccid: ok ($(tail -1 $O/check-qemu-ccid.log))"
	else
		note "qemu-ccid: FAIL ($(tail -1 $O/check-qemu-ccid.log))"; failed=$((failed + 1))
	fi
else
	note "qemu-ccid: not on the bus, not tested"
fi
echo "== done ($(now)s), $failed runs failed"
exit $failed
