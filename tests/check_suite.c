/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `uccid test` suite format (tool/hil/suite.c, suite_match.c):
 * parsing into steps and tests, the errors a suite author sees (FILE:LINE
 * and what was wrong), status-word specs, data patterns, slices, durations
 * and variables.
 */
#include "config.h"

#include <errno.h>

#include "tool/hil/suite.h"
#include "session/uccid.h"
#include "tests/testutil.h"

static struct suite *parse_ok(const char *text)
{
	struct suite *s = NULL;
	char err[256];
	int rc = suite_parse("t.suite", text, strlen(text), &s, err, sizeof(err));

	ck_assert_msg(rc == 0, "parse failed: %s", err);
	return s;
}

/* The error a suite author would see. */
static void parse_err(const char *text, const char *want)
{
	struct suite *s = NULL;
	char err[256];
	int rc = suite_parse("t.suite", text, strlen(text), &s, err, sizeof(err));

	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, want), "error '%s' lacks '%s'", err, want);
}

START_TEST(test_steps)
{
	struct suite *s = parse_ok("# a suite\n"
				   "suite my suite\n"
				   "reader main usbip://h/1-1\n"
				   "reader other\n"
				   "suite-timeout 2m\nstep-timeout 500ms\ncontrol /tmp/ctl\n"
				   "power 3V expect-atr 3B *   # comment\n"
				   "test first one\n"
				   "  apdu 00 A4 04 00 02 3F00 expect 61??|9000/FFF0 timeout 2s\n"
				   "  use other\n"
				   "  slot 2\n"
				   "  set X = data[0:2]\n"
				   "  apdu 00B0000002 expect-data ${X} expect-len 2\r\n"
				   "test second\n"
				   "  wait-event removed 5s\n"
				   "  lock try mechanical expect-error EBUSY|ETIMEDOUT\n"
				   "  unlock eject expect-done latched\n"
				   "  vreader fault mute count=2\n"
				   "  status absent unpowered\n"
				   "  sleep 0\n"
				   "  escape 01 02 expect-data /^0102$/\n");

	ck_assert_str_eq(s->name, "my suite");
	ck_assert_uint_eq(s->suite_timeout_ms, 120000);
	ck_assert_uint_eq(s->step_timeout_ms, 500);
	ck_assert_str_eq(s->control, "/tmp/ctl");
	ck_assert_uint_eq(s->nreaders, 2);
	ck_assert_str_eq(s->readers[0].name, "usbip://h/1-1");
	ck_assert_ptr_null(s->readers[1].name);
	ck_assert_uint_eq(s->ntests, 3);
	ck_assert_str_eq(s->tests[0].name, "power 3V expect-atr 3B *");
	ck_assert_str_eq(s->tests[1].name, "first one");
	ck_assert_uint_eq(s->tests[1].line, 9);
	ck_assert_uint_eq(s->tests[1].count, 5);
	ck_assert_uint_eq(s->tests[2].count, 7);
	ck_assert_int_eq(s->steps[0].op, SOP_POWER);
	ck_assert_int_eq(s->steps[0].iarg, UCCID_VOLTAGE_3V);
	ck_assert_str_eq(s->steps[0].pattern, "3B *");
	ck_assert_int_eq(s->steps[1].op, SOP_APDU);
	ck_assert_str_eq(s->steps[1].arg, "00A40400023F00");
	ck_assert_uint_eq(s->steps[1].nsw, 2);
	ck_assert_uint_eq(s->steps[1].timeout_ms, 2000);
	ck_assert_uint_eq(s->steps[1].line, 10);
	ck_assert_int_eq(s->steps[2].op, SOP_USE);
	ck_assert_int_eq(s->steps[2].iarg, 1);
	ck_assert_int_eq(s->steps[3].iarg, 2);
	ck_assert_str_eq(s->steps[4].name, "X");
	ck_assert_str_eq(s->steps[4].arg, "data[0:2]");
	ck_assert_int_eq(s->steps[5].expect_len, 2);
	ck_assert_uint_eq(s->steps[5].nsw, 1);          /* apdu defaults to 9000 */
	ck_assert_uint_eq(s->steps[5].sw[0].value, 0x9000);
	ck_assert_int_eq(s->steps[6].iarg, SUITE_EV_REMOVED);
	ck_assert_uint_eq(s->steps[6].timeout_ms, 5000);
	ck_assert(s->steps[7].try_once);
	ck_assert_int_eq(s->steps[7].iarg, UCCID_LOCK_MECHANICAL);
	ck_assert_uint_eq(s->steps[7].nerrs, 2);
	ck_assert_int_eq(s->steps[7].errs[1], ETIMEDOUT);
	ck_assert_int_eq(s->steps[8].iarg, UCCID_EJECT);
	ck_assert_int_eq(s->steps[8].expect_done, UCCID_DONE_LATCHED);
	ck_assert_str_eq(s->steps[9].arg, "fault mute count=2");
	ck_assert_uint_eq(s->steps[10].mask, SUITE_ST_PRESENT | SUITE_ST_POWERED);
	ck_assert_int_eq(s->steps[10].iarg, 0);
	ck_assert_int_eq(s->steps[12].op, SOP_ESCAPE);
	ck_assert_uint_eq(s->steps[12].nsw, 0);
	suite_free(s);

	s = parse_ok("apdu 00A4040C07F0756363696401\n");
	ck_assert_str_eq(s->name, "t");                 /* the file's base name */
	ck_assert_uint_eq(s->nreaders, 0);
	suite_free(s);
}
END_TEST

START_TEST(test_errors)
{
	parse_err("power\nfrobnicate\n", "t.suite:2: unknown directive 'frobnicate'");
	parse_err("apdu 00A4 04 0G\n", "t.suite:1: apdu: '00A4040G' is not hex");
	parse_err("apdu 00A4 0\n", "t.suite:1: apdu: '00A40' is not hex");
	parse_err("apdu 00A404\n", "t.suite:1: apdu: 3 bytes; at least 4 needed");
	parse_err("apdu\n", "give the command APDU in hex");
	parse_err("\n\napdu 00A40400 expect 9X00\n", "t.suite:3: expect: '9X00' is not a status word");
	parse_err("apdu 00A40400 expect 9000 expect 9000\n", "'expect' given twice");
	parse_err("apdu 00A40400 expect\n", "'expect' needs a value");
	parse_err("apdu 00A40400 expect 9000 6A82\n", "'expect' takes one value");
	parse_err("apdu 00A40400 expect-data 0 1 2\n", "expect-data: odd number of hex digits");
	parse_err("apdu 00A40400 expect-data /[/\n", "expect-data: bad regular expression");
	/* glibc's regcomp doubles the tree per stacked operator: 38 of them took 15 GB (fuzz_suite) */
	parse_err("apdu 00A40400 expect-data /3B7A++++++++++++++++++++++++++++++++++++++/\n",
		  "expect-data: bad regular expression: a repetition operator right after another");
	parse_err("apdu 00A40400 expect-data /((((9{255}){255}){255}){255})/\n",
		  "expect-data: bad regular expression: repetitions that would make the expression too large");
	parse_err("apdu 00A40400 expect-data 0Z\n", "'Z' is not hex");
	parse_err("apdu 00A40400 expect-error EFOO\n", "expect-error: 'EFOO' is not an error name");
	parse_err("apdu 00A40400 expect 9000 expect-error EIO\n", "cannot be combined");
	parse_err("apdu 00A40400 timeout 0\n", "timeout: '0' is not a duration");
	parse_err("apdu 00A40400 timeout 25h\n", "timeout: '25h' is not a duration");
	parse_err("apdu 00A40400 expect-done reset\n", "'expect-done' does not apply to this step");
	parse_err("apdu 00A40400 expect-len 70000\n", "expect-len: '70000' is not a length");
	parse_err("power 12V\n", "power: '12V' is not auto, 5V, 3V or 1.8V");
	parse_err("reset lukewarm\n", "reset: 'lukewarm' is not warm or cold");
	parse_err("poweroff expect 9000\n", "'expect' does not apply to this step");
	parse_err("status\n", "status: say what is expected");
	parse_err("status present absent\n", "contradicts or repeats");
	parse_err("wait-event arrived\n", "wait-event: 'arrived' is not inserted");
	parse_err("lock forever\n", "lock: 'forever' is not 'try' or 'mechanical'");
	parse_err("unlock\n", "unlock: give the disposition");
	parse_err("unlock keep\n", "unlock: 'keep' is not leave, reset, unpower or eject");
	parse_err("unlock reset expect-done exploded\n", "expect-done: 'exploded' is not");
	parse_err("sleep\n", "sleep takes one duration");
	parse_err("sleep 5 parsecs\n", "sleep takes one duration");
	parse_err("vreader\n", "vreader: give the control command");
	parse_err("set X data\n", "set NAME = data[A:B]");
	parse_err("set 1X = data\n", "set: '1X' is not a variable name");
	parse_err("set X = data[1:z]\n", "set: 'data[1:z]' is not data");
	parse_err("set X = 0G\n", "set: '0G' is not hex");
	parse_err("use nobody\n", "use: no reader 'nobody' declared above");
	parse_err("slot 256\n", "slot takes a slot number from 0 to 255");
	parse_err("reader a\nreader a\n", "t.suite:2: reader 'a' declared twice");
	parse_err("reader a b c\n", "reader ALIAS [NAME]");
	parse_err("reader a/b\n", "reader: 'a/b' is not an alias");
	parse_err("suite a\nsuite b\n", "t.suite:2: the suite is named twice");
	parse_err("suite-timeout 1s\nsuite-timeout 2s\n", "suite-timeout given twice");
	parse_err("control a b\n", "control takes the path");
	parse_err("test\n", "test: give the test a name");
	parse_err("# nothing\nreader a\n", "no steps: a suite must test something");
	parse_err("", "t.suite:1: no steps");
	parse_err("test empty\ntest full\npower\n", "t.suite:1: test 'empty' has no steps");
	parse_err("power\npow\001er\n", "t.suite:2: a control character (0x01)");
	{
		char text[] = "power\npower\0\n";

		struct suite *s = NULL;
		char err[128];

		ck_assert_int_eq(suite_parse("t.suite", text, sizeof(text) - 1, &s, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "t.suite:2: a NUL byte"), "%s", err);
	}
}
END_TEST

START_TEST(test_limits)
{
	size_t n = SUITE_LINE_MAX + 16;
	char *text = malloc(n + 8), err[256];
	struct suite *s = NULL;

	ck_assert_ptr_nonnull(text);
	memcpy(text, "apdu ", 5);
	memset(text + 5, 'A', n - 5);
	text[n] = '\n';
	ck_assert_int_eq(suite_parse("t.suite", text, n + 1, &s, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "t.suite:1: line longer than"), "%s", err);
	/* a 65535-byte APDU fits on a line */
	memcpy(text, "apdu 801000000000FFFF", 21);
	memset(text + 21, 'A', 65535 * 2);
	text[21 + 65535 * 2] = '\n';
	ck_assert_int_eq(suite_parse("t.suite", text, 22 + 65535 * 2, &s, err, sizeof(err)), 0);
	suite_free(s);
	free(text);
	ck_assert_int_eq(suite_parse("t.suite", "power\n", SUITE_FILE_MAX + 1, &s, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "larger than"), "%s", err);
	suite_free(NULL);
}
END_TEST

START_TEST(test_sw)
{
	struct suite_sw sw[SUITE_SW_ALTS_MAX];
	char buf[64];

	ck_assert_int_eq(suite_parse_sw("9000", sw, SUITE_SW_ALTS_MAX), 1);
	ck_assert(suite_sw_match(sw, 1, 0x9000));
	ck_assert(!suite_sw_match(sw, 1, 0x9001));
	ck_assert_int_eq(suite_parse_sw("61??|6c??", sw, SUITE_SW_ALTS_MAX), 2);
	ck_assert(suite_sw_match(sw, 2, 0x6110));
	ck_assert(suite_sw_match(sw, 2, 0x6CFF));
	ck_assert(!suite_sw_match(sw, 2, 0x6210));
	suite_sw_format(sw, 2, buf, sizeof(buf));
	ck_assert_str_eq(buf, "61?? or 6C??");
	ck_assert_int_eq(suite_parse_sw("63C0/FFF0", sw, SUITE_SW_ALTS_MAX), 1);
	ck_assert(suite_sw_match(sw, 1, 0x63C2));
	ck_assert(!suite_sw_match(sw, 1, 0x63D2));
	suite_sw_format(sw, 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "63C?");
	ck_assert_int_eq(suite_parse_sw("9000/F0F0", sw, SUITE_SW_ALTS_MAX), 1);
	suite_sw_format(sw, 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "9?0?");
	ck_assert_int_eq(suite_parse_sw("6A88/FFF8", sw, SUITE_SW_ALTS_MAX), 1);
	ck_assert(suite_sw_match(sw, 1, 0x6A8F));
	ck_assert(!suite_sw_match(sw, 1, 0x6A87));
	suite_sw_format(sw, 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "6A88/FFF8");
	ck_assert_int_eq(suite_parse_sw("any", sw, SUITE_SW_ALTS_MAX), 1);
	ck_assert(suite_sw_match(sw, 1, 0x1234));
	ck_assert_int_eq(suite_parse_sw("900", sw, SUITE_SW_ALTS_MAX), -EINVAL);
	ck_assert_int_eq(suite_parse_sw("90000", sw, SUITE_SW_ALTS_MAX), -EINVAL);
	ck_assert_int_eq(suite_parse_sw("9000/FF", sw, SUITE_SW_ALTS_MAX), -EINVAL);
	ck_assert_int_eq(suite_parse_sw("9000|", sw, SUITE_SW_ALTS_MAX), -EINVAL);
	ck_assert_int_eq(suite_parse_sw("1111|2222|3333", sw, 2), -EINVAL);
}
END_TEST

static int match(const char *pat, const char *hex)
{
	uint8_t b[64];
	char err[128];
	size_t n = tu_hex(hex, b, sizeof(b));

	return suite_match_data(pat, b, n, err, sizeof(err));
}

START_TEST(test_patterns)
{
	ck_assert_int_eq(match("00 01 02", "000102"), 1);
	ck_assert_int_eq(match("000102", "00010203"), 0);       /* the whole data */
	ck_assert_int_eq(match("00 .. 02", "00FF02"), 1);
	ck_assert_int_eq(match("0? ?1", "0A B1"), 1);
	ck_assert_int_eq(match("0? ?1", "1A B1"), 0);
	ck_assert_int_eq(match("*", ""), 1);
	ck_assert_int_eq(match("", ""), 1);
	ck_assert_int_eq(match("", "00"), 0);
	ck_assert_int_eq(match("3B * 64", "3B 01 02 64"), 1);
	ck_assert_int_eq(match("3B * 64", "3B 64"), 1);
	ck_assert_int_eq(match("3B * 64", "3B 64 01"), 0);
	/* counted groups within the weight limit still compile and match */
	ck_assert_int_eq(match("/^([0-9A-F]{2}){2,3}9000$/", "01029000"), 1);
	ck_assert_int_eq(match("/^[]A-F]{255}$/", "01"), 0);
	ck_assert_int_eq(match("* 01 * 01", "01 02 01 03 01"), 1);  /* backtracking */
	ck_assert_int_eq(match("* 01 02", "01 01 01 02"), 1);
	ck_assert_int_eq(match("/^9000$/", "9000"), 1);
	ck_assert_int_eq(match("/A0{2}/", "01A00002"), 1);
	ck_assert_int_eq(match("/^a0/", "A0"), 1);                /* case-insensitive */
	ck_assert_int_eq(match("/^00$/", "01"), 0);
	ck_assert_int_eq(match("0", "00"), -EINVAL);
	ck_assert_int_eq(match("0*", "00"), -EINVAL);
	ck_assert_int_eq(match("/(/", "00"), -EINVAL);
	ck_assert_int_eq(match("/abc", "00"), -EINVAL);
	ck_assert_int_eq(match("xy", "00"), -EINVAL);
}
END_TEST

START_TEST(test_slices)
{
	size_t off, n;

	ck_assert_int_eq(suite_slice("", 5, &off, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(suite_slice("[1:3]", 5, &off, &n), 0);
	ck_assert_uint_eq(off, 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(suite_slice("[2:]", 5, &off, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(suite_slice("[:2]", 5, &off, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(suite_slice("[-2:]", 5, &off, &n), 0);
	ck_assert_uint_eq(off, 3);
	ck_assert_int_eq(suite_slice("[4]", 5, &off, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(suite_slice("[5]", 5, &off, &n), -ERANGE);
	ck_assert_int_eq(suite_slice("[0:8]", 5, &off, &n), -ERANGE);
	ck_assert_int_eq(suite_slice("[-9:]", 5, &off, &n), -ERANGE);
	ck_assert_int_eq(suite_slice("[3:1]", 5, &off, &n), -ERANGE);
	ck_assert_int_eq(suite_slice("[99999999999999999999]", 5, &off, &n), -EINVAL);
	ck_assert_int_eq(suite_slice("[a]", 5, &off, &n), -EINVAL);
	ck_assert_int_eq(suite_slice("[]", 5, &off, &n), -EINVAL);
	ck_assert_int_eq(suite_slice("1:2", 5, &off, &n), -EINVAL);
	ck_assert_int_eq(suite_slice("[1:2", 5, &off, &n), -EINVAL);
}
END_TEST

START_TEST(test_vars_and_durations)
{
	struct suite_vars v = { 0 };
	char err[128], *x;
	unsigned ms;

	ck_assert_int_eq(suite_var_set(&v, "A", "0102"), 0);
	ck_assert_int_eq(suite_var_set(&v, "A", "03"), 0);        /* replaced */
	ck_assert_int_eq(suite_var_set(&v, "B_2", "FF"), 0);
	ck_assert_int_eq(suite_var_set(&v, "2B", "FF"), -EINVAL);
	ck_assert_uint_eq(v.n, 2);
	x = suite_expand(&v, "80 ${A}${B_2} $ end", err, sizeof(err));
	ck_assert_str_eq(x, "80 03FF $ end");
	free(x);
	ck_assert_ptr_null(suite_expand(&v, "${C}", err, sizeof(err)));
	ck_assert_str_eq(err, "variable 'C' is not set");
	ck_assert_ptr_null(suite_expand(&v, "${A", err, sizeof(err)));
	ck_assert_ptr_null(suite_expand(&v, "${}", err, sizeof(err)));
	for (unsigned i = v.n; i < SUITE_VARS_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "V%u", i);
		ck_assert_int_eq(suite_var_set(&v, name, ""), 0);
	}
	ck_assert_int_eq(suite_var_set(&v, "ONE_MORE", ""), -ENOSPC);
	suite_vars_clear(&v);
	ck_assert_uint_eq(v.n, 0);

	ck_assert_int_eq(suite_parse_duration("250ms", &ms), 0);
	ck_assert_uint_eq(ms, 250);
	ck_assert_int_eq(suite_parse_duration("5", &ms), 0);
	ck_assert_uint_eq(ms, 5000);
	ck_assert_int_eq(suite_parse_duration("2m", &ms), 0);
	ck_assert_uint_eq(ms, 120000);
	ck_assert_int_eq(suite_parse_duration("1441m", &ms), -EINVAL);
	ck_assert_int_eq(suite_parse_duration("-1s", &ms), -EINVAL);
	ck_assert_int_eq(suite_parse_duration("5h", &ms), -EINVAL);
	ck_assert_int_eq(suite_parse_duration("99999999999999999999999", &ms), -EINVAL);
	ck_assert_int_eq(suite_errno_parse("ETIMEDOUT"), ETIMEDOUT);
	ck_assert_int_eq(suite_errno_parse("etimedout"), -EINVAL);
	ck_assert_str_eq(suite_errno_name(-ENOMEDIUM), "ENOMEDIUM");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suite");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_steps);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("match");
	tcase_add_test(tc, test_sw);
	tcase_add_test(tc, test_patterns);
	tcase_add_test(tc, test_slices);
	tcase_add_test(tc, test_vars_and_durations);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
