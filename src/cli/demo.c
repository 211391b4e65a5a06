/* demo.c — `dealmap demo`: a small, believable company to explore dealmap with: two sales
 * departments, their reps, customers with buyers, deals at every stage and their follow-ups.
 * Everything goes through the same rules as the API (records.h). */
#include "cli.h"
#include "../base/timeutil.h"
#include "../domain/records.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

#define DEMO_PASSWORD "Dealmap-Demo-2026"

static const char usage[] =
	"usage: dealmap demo [--db PATH] [--admin-password PW]\n"
	"\n"
	"Create the database if needed and load a demo company into it (only when it has\n"
	"no accounts yet). Demo users sign in with the password " DEMO_PASSWORD ".\n"
	"  --db PATH              database file (default $DEALMAP_DB or dealmap.db)\n"
	"  --admin-password PW    password for admin if it must be created\n";

struct demo {
	struct store *s;
	struct dm_err e;
	int failed;
};

/* Create a record as viewer v from a JSON text; returns its id, 0 after a failure. */
static int64_t make(struct demo *d, const struct kind *k, const struct viewer *v, json_t *body)
{
	json_t *rec = NULL;
	if (d->failed || !body) {
		json_decref(body);
		d->failed = 1;
		return 0;
	}
	if (rec_create(d->s, k, v, body, &rec, &d->e)) {
		fprintf(stderr, "dealmap demo: %s %s: %s\n", k->name, d->e.field, d->e.message);
		d->failed = 1;
	}
	json_decref(body);
	int64_t id = json_integer_value(json_object_get(rec, "id"));
	json_decref(rec);
	return id;
}

static void set_team_manager(struct demo *d, int64_t team, int64_t manager)
{
	json_t *rec = NULL, *body = json_pack("{s:I}", "manager_id", (json_int_t)manager);
	if (!d->failed && rec_update(d->s, &kind_team, &viewer_system, team, body, -1, &rec, &d->e))
		d->failed = 1;
	json_decref(body);
	json_decref(rec);
}

static void days_ago(int days, int hour, char out[TIME_STR_LEN])
{
	int64_t now = time_now_ms();
	int64_t day = now - now % 86400000LL;
	time_format(day - (int64_t)days * 86400000LL + (int64_t)(hour - 8) * 3600000LL, out);
}

static void date_in(int days, char out[DATE_STR_LEN])
{
	char t[TIME_STR_LEN];
	time_format(time_now_ms() + (int64_t)days * 86400000LL, t);
	memcpy(out, t, 10);
	out[10] = '\0';
}

struct demo_account {
	const char *name, *industry, *scale, *importance, *lifecycle;
	int rep;   /* index into reps[] */
	struct {
		const char *name, *title, *dept, *rank;
		int reports_to;   /* index within this account's contacts, -1 = none */
	} contacts[4];
	struct {
		const char *name, *stage;
		long long amount;
		int close_in_days;
	} opps[2];
};

static const struct demo_account accounts[] = {
	{ "上海申达印刷包装有限公司", "印刷包装", "500-1000人", "A", "grow", 0,
	  { { "陈建国", "总经理", "总经办", "executive", -1 },
	    { "刘敏", "采购经理", "采购部", "manager", 0 },
	    { "周涛", "生产总监", "生产部", "director", 0 },
	    { "吴静", "设备主管", "生产部", "staff", 2 } },
	  { { "二期印后生产线", "compare", 3800000000LL, 45 },
	    { "年度耗材框架协议", "use", 620000000LL, -10 } } },
	{ "杭州华信电子科技有限公司", "电子制造", "1000-5000人", "VVIP", "mature", 0,
	  { { "孙立华", "副总裁", "运营中心", "executive", -1 },
	    { "郑凯", "IT总监", "信息部", "director", 0 },
	    { "王芳", "项目经理", "信息部", "manager", 1 },
	    { NULL, NULL, NULL, NULL, -1 } },
	  { { "MES系统升级", "design", 1500000000LL, 90 },
	    { NULL, NULL, 0, 0 } } },
	{ "苏州恒远机械制造有限公司", "机械设备", "200-500人", "B", "acquire", 1,
	  { { "黄志强", "董事长", "董事会", "executive", -1 },
	    { "林晓燕", "技术部长", "技术部", "director", 0 },
	    { NULL, NULL, NULL, NULL, -1 },
	    { NULL, NULL, NULL, NULL, -1 } },
	  { { "数控设备采购", "brewing", 900000000LL, 120 },
	    { NULL, NULL, 0, 0 } } },
	{ "ACME Packaging Ltd", "Packaging", "100-200", "B", "acquire", 1,
	  { { "John Miller", "Managing Director", "Management", "executive", -1 },
	    { "Sarah Chen", "Purchasing Lead", "Procurement", "manager", 0 },
	    { NULL, NULL, NULL, NULL, -1 },
	    { NULL, NULL, NULL, NULL, -1 } },
	  { { "Folding-carton line", "interest", 450000000LL, 150 },
	    { NULL, NULL, 0, 0 } } },
	{ "北京中联通信设备有限公司", "通信设备", "5000人以上", "A", "grow", 2,
	  { { "赵国栋", "总裁", "总裁办", "executive", -1 },
	    { "钱伟", "采购总监", "采购中心", "director", 0 },
	    { "冯磊", "网络部经理", "网络部", "manager", 0 },
	    { NULL, NULL, NULL, NULL, -1 } },
	  { { "核心网扩容项目", "commit", 8600000000LL, 20 },
	    { "运维服务续约", "won", 1200000000LL, -30 } } },
	{ "天津港联物流集团", "物流", "1000-5000人", "C", "decline", 2,
	  { { "褚红", "物流总监", "运营部", "director", -1 },
	    { NULL, NULL, NULL, NULL, -1 },
	    { NULL, NULL, NULL, NULL, -1 },
	    { NULL, NULL, NULL, NULL, -1 } },
	  { { "仓储系统改造", "lost", 700000000LL, -60 },
	    { NULL, NULL, 0, 0 } } },
};

static const char *const channels[] = { "visit", "phone", "wechat", "email", "meeting", "invite" };
static const char *const summaries[] = {
	"拜访客户，了解现有设备使用情况和痛点",
	"电话沟通项目进度，客户确认预算在审批中",
	"微信发送案例资料，对方表示会转给技术部",
	"Sent the reference list and the service terms",
	"参加客户技术交流会，演示整体方案思路",
	"邀请客户来公司参观生产线，对方同意下月来访",
};

static void load(struct demo *d)
{
	char pw[] = DEMO_PASSWORD;
	struct viewer reps[3];
	int64_t east = make(d, &kind_team, &viewer_system,
			    json_pack("{s:s}", "name", "华东销售部"));
	int64_t shanghai = make(d, &kind_team, &viewer_system,
				json_pack("{s:s,s:I}", "name", "上海组", "parent_id", (json_int_t)east));
	int64_t north = make(d, &kind_team, &viewer_system,
			     json_pack("{s:s}", "name", "华北销售部"));
	int64_t wang = make(d, &kind_user, &viewer_system,
			    json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "username", "wang", "display_name",
				      "王经理", "role", "manager", "team_id", (json_int_t)east,
				      "hired_on", "2019-03-01", "password", pw));
	int64_t zhao = make(d, &kind_user, &viewer_system,
			    json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "username", "zhao", "display_name",
				      "赵经理", "role", "manager", "team_id", (json_int_t)north,
				      "hired_on", "2020-07-15", "password", pw));
	set_team_manager(d, east, wang);
	set_team_manager(d, north, zhao);
	static const char *const rep_names[3][3] = { { "li", "李娜", "2023-02-20" },
						     { "zhang", "张伟", "2025-09-01" },
						     { "chen", "陈晨", "2024-04-08" } };
	for (int i = 0; i < 3; i++) {
		int64_t team = i < 2 ? shanghai : north;
		reps[i].user_id = make(d, &kind_user, &viewer_system,
			json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "username", rep_names[i][0],
				  "display_name", rep_names[i][1], "role", "rep", "team_id",
				  (json_int_t)team, "hired_on", rep_names[i][2], "password", pw));
		reps[i].role = ROLE_REP;
		reps[i].team_id = team;
	}
	int touch = 0;
	for (size_t a = 0; a < sizeof accounts / sizeof accounts[0] && !d->failed; a++) {
		const struct demo_account *da = &accounts[a];
		const struct viewer *rep = &reps[da->rep];
		int64_t acc = make(d, &kind_account, rep,
			json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", da->name, "industry",
				  da->industry, "scale", da->scale, "importance", da->importance,
				  "lifecycle", da->lifecycle, "source", "展会"));
		int64_t cids[4] = { 0 };
		for (int c = 0; c < 4 && da->contacts[c].name; c++) {
			json_t *body = json_pack("{s:I,s:s,s:s,s:s,s:s}", "account_id", (json_int_t)acc,
						 "name", da->contacts[c].name, "title",
						 da->contacts[c].title, "department", da->contacts[c].dept,
						 "rank", da->contacts[c].rank);
			if (da->contacts[c].reports_to >= 0)
				json_object_set_new(body, "reports_to_id",
						    json_integer(cids[da->contacts[c].reports_to]));
			cids[c] = make(d, &kind_contact, rep, body);
		}
		for (int o = 0; o < 2 && da->opps[o].name; o++) {
			char close[DATE_STR_LEN];
			date_in(da->opps[o].close_in_days, close);
			json_t *body = json_pack("{s:I,s:s,s:s,s:I,s:s,s:[s]}", "account_id",
						 (json_int_t)acc, "name", da->opps[o].name, "stage",
						 da->opps[o].stage, "amount",
						 (json_int_t)da->opps[o].amount, "expected_close_on", close,
						 "competitors", "海德堡");
			if (!strcmp(da->opps[o].stage, "lost"))
				json_object_set_new(body, "lost_reason", json_string("价格高于竞争对手 15%"));
			make(d, &kind_opportunity, rep, body);
		}
		for (int t = 0; t < 3 + (int)a % 4; t++, touch++) {
			char at[TIME_STR_LEN], next[DATE_STR_LEN];
			days_ago(5 + t * 11 + (int)a * 3, 10 + t % 6, at);
			date_in(7 + (int)a, next);
			json_t *body = json_pack("{s:I,s:s,s:s,s:s,s:[I]}", "account_id", (json_int_t)acc,
						 "channel", channels[touch % 6], "occurred_at", at,
						 "summary", summaries[touch % 6], "contact_ids",
						 (json_int_t)(cids[t % 2] ? cids[t % 2] : cids[0]));
			if (t == 0)
				json_object_set_new(body, "next_touch_on", json_string(next));
			make(d, &kind_activity, rep, body);
		}
	}
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "admin-password", required_argument, NULL, 'p' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *db = cli_default_db(), *pw = NULL;
	int c;
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'p': pw = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_error(usage, "demo: unknown or incomplete option %s",
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "demo: unexpected argument %s", argv[optind]);
	struct demo d;
	memset(&d, 0, sizeof d);
	if (cli_open(db, &d.s))
		return 1;
	int64_t n = 0;
	if (cli_ensure_admin(d.s, pw) || store_count(d.s, &kind_account, &n, &d.e)) {
		store_close(d.s);
		return 1;
	}
	if (n > 0) {
		printf("%s already has accounts; the demo company was not loaded\n", db);
		store_close(d.s);
		return 0;
	}
	load(&d);
	store_close(d.s);
	if (d.failed)
		return 1;
	printf("demo company loaded into %s\n"
	       "demo sign-ins (password " DEMO_PASSWORD "):\n"
	       "  wang   manager, 华东销售部 (sees li and zhang)\n"
	       "  zhao   manager, 华北销售部 (sees chen)\n"
	       "  li, zhang   reps in 上海组;  chen   rep in 华北销售部\n", db);
	return 0;
}
