/* demo.c — `dealmap demo`: a believable company to explore dealmap with, deterministic from a
 * seed: teams in a tree, a dozen reps with hire dates, 300 customers in several industries,
 * contacts with org charts and portraits, opportunities in every stage (moved stage by stage, so
 * each has its history), stakeholders on the big deals, a year of follow-ups across channels,
 * orders with repurchase patterns, leads, and some accounts parked in the public pool.
 * Everything goes through the rules (records.h, pool.h), in one transaction, so it loads in
 * seconds. Dates are relative to the day it is loaded. */
#include "cli.h"
#include "../base/timeutil.h"
#include "../domain/pool.h"
#include "../domain/records.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

#define DEMO_PASSWORD "Dealmap-Demo-2026"
#define DEMO_SEED 20260101u
#define NACCOUNTS 300
#define NREPS 12

static const char usage[] =
	"usage: dealmap demo [--db PATH] [--admin-password PW] [--seed N]\n"
	"\n"
	"Create the database if needed and load a demo company into it (only when it has\n"
	"no accounts yet). Demo users wang, zhao (managers), li, zhang, chen (reps) sign in\n"
	"with the password " DEMO_PASSWORD ".\n"
	"  --db PATH              database file (default $DEALMAP_DB or dealmap.db)\n"
	"  --admin-password PW    password for admin if it must be created\n"
	"  --seed N               another company of the same shape (default 20260101)\n";

struct demo {
	struct store *s;
	struct dm_err e;
	int failed;
	uint64_t rng;
	struct rec_batch batch;
	struct viewer mgr[2], reps[NREPS];
	int64_t accounts[NACCOUNTS];
	int rep_of[NACCOUNTS];
	int64_t opps, activities, contacts, orders, leads, pooled;
};

static uint32_t rnd(struct demo *d, uint32_t n)
{
	d->rng ^= d->rng << 13;
	d->rng ^= d->rng >> 7;
	d->rng ^= d->rng << 17;
	return (uint32_t)(d->rng % n);
}

static int fail(struct demo *d, const char *what)
{
	if (!d->failed)
		fprintf(stderr, "dealmap demo: %s: %s %s\n", what, d->e.field, d->e.message);
	d->failed = 1;
	return 0;
}

/* Create through the rules; returns the id (0 after a failure). Takes body. */
static int64_t make(struct demo *d, const struct kind *k, const struct viewer *v, json_t *body)
{
	int64_t id = 0;
	if (!d->failed && (!body || rec_create_tx(d->s, k, v, body, &d->batch, &id, &d->e)))
		fail(d, k->name);
	json_decref(body);
	return id;
}

/* A user with the demo password (hashed: the few who sign in) or none. */
static int64_t make_user(struct demo *d, const char *name, const char *display, const char *role,
			 int64_t team, const char *hired, int password)
{
	json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:s}", "username", name, "display_name", display,
				 "role", role, "team_id", (json_int_t)team, "hired_on", hired);
	json_t *rec = NULL;
	if (password)
		json_object_set_new(body, "password", json_string(DEMO_PASSWORD));
	if (!d->failed && rec_create(d->s, &kind_user, &viewer_system, body, &rec, &d->e))
		fail(d, name);
	json_decref(body);
	int64_t id = json_integer_value(json_object_get(rec, "id"));
	json_decref(rec);
	return id;
}

static void change(struct demo *d, const struct kind *k, const struct viewer *v, int64_t id,
		   json_t *body)
{
	json_t *rec = NULL;
	if (!d->failed && rec_update(d->s, k, v, id, body, -1, &rec, &d->e))
		fail(d, k->name);
	json_decref(body);
	json_decref(rec);
}

static void when(int days_ago, int hour, char out[TIME_STR_LEN])
{
	int64_t now = time_now_ms();
	time_format(now - now % 86400000LL - (int64_t)days_ago * 86400000LL +
		    (int64_t)(hour - 8) * 3600000LL, out);
}

static void day(int offset, char out[DATE_STR_LEN])
{
	char t[TIME_STR_LEN];
	time_format(time_now_ms() + (int64_t)offset * 86400000LL, t);
	memcpy(out, t, 10);
	out[10] = '\0';
}

/* ---- the people ------------------------------------------------------------------------------ */

static void people(struct demo *d)
{
	static const struct {
		const char *user, *name, *hired;
		int team;   /* index into teams below */
		int password;
	} reps[NREPS] = {
		{ "li", "李娜", "2023-02-20", 1, 1 }, { "zhang", "张伟", "2025-09-01", 1, 1 },
		{ "chen", "陈晨", "2024-04-08", 3, 1 }, { "zhou", "周洋", "2022-06-13", 1, 0 },
		{ "wu", "吴磊", "2021-03-01", 2, 0 }, { "zheng", "郑雪", "2024-11-18", 2, 0 },
		{ "feng", "冯涛", "2025-05-06", 2, 0 }, { "he", "何静", "2020-08-24", 3, 0 },
		{ "lv", "吕强", "2023-09-11", 3, 0 }, { "shi", "施敏", "2022-01-10", 4, 0 },
		{ "kong", "孔杰", "2025-02-17", 4, 0 }, { "cao", "曹颖", "2024-07-01", 4, 0 },
	};
	int64_t teams[5];
	teams[0] = make(d, &kind_team, &viewer_system, json_pack("{s:s}", "name", "华东销售部"));
	teams[1] = make(d, &kind_team, &viewer_system,
			json_pack("{s:s,s:I}", "name", "上海组", "parent_id", (json_int_t)teams[0]));
	teams[2] = make(d, &kind_team, &viewer_system,
			json_pack("{s:s,s:I}", "name", "杭州组", "parent_id", (json_int_t)teams[0]));
	int64_t north = make(d, &kind_team, &viewer_system, json_pack("{s:s}", "name", "华北销售部"));
	teams[3] = north;
	teams[4] = make(d, &kind_team, &viewer_system,
			json_pack("{s:s,s:I}", "name", "天津组", "parent_id", (json_int_t)north));
	int64_t wang = make_user(d, "wang", "王经理", "manager", teams[0], "2019-03-01", 1);
	int64_t zhao = make_user(d, "zhao", "赵经理", "manager", north, "2020-07-15", 1);
	change(d, &kind_team, &viewer_system, teams[0], json_pack("{s:I}", "manager_id", (json_int_t)wang));
	change(d, &kind_team, &viewer_system, north, json_pack("{s:I}", "manager_id", (json_int_t)zhao));
	d->mgr[0] = (struct viewer){ wang, ROLE_MANAGER, teams[0] };
	d->mgr[1] = (struct viewer){ zhao, ROLE_MANAGER, north };
	for (int i = 0; i < NREPS; i++) {
		int64_t team = teams[reps[i].team];
		d->reps[i].user_id = make_user(d, reps[i].user, reps[i].name, "rep", team, reps[i].hired,
					       reps[i].password);
		d->reps[i].role = ROLE_REP;
		d->reps[i].team_id = team;
	}
}

/* ---- customers and their buyers -------------------------------------------------------------- */

static const char *const cities[15] = { "上海", "杭州", "苏州", "南京", "北京", "天津", "宁波", "无锡",
					"合肥", "济南", "青岛", "广州", "深圳", "成都", "武汉" };
static const char *const words[20] = { "申达", "华信", "恒远", "中联", "港联", "金鼎", "宏图", "瑞丰",
				       "天成", "新华", "东方", "远大", "博瑞", "鑫源", "永盛", "华泰",
				       "明辉", "嘉禾", "正泰", "国安" };
static const struct {
	const char *industry, *suffix, *product;
} industries[7] = {
	{ "印刷包装", "印务包装有限公司", "胶印耗材" }, { "电子制造", "电子科技有限公司", "贴片设备维保" },
	{ "机械设备", "机械制造有限公司", "数控刀具" }, { "通信设备", "通信技术股份有限公司", "光模块" },
	{ "物流", "物流集团有限公司", "仓储软件年费" }, { "食品饮料", "食品有限公司", "包装材料" },
	{ "医药", "医药股份有限公司", "洁净室耗材" },
};

static const char *const surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗";

static void person_name(struct demo *d, char out[32])
{
	static const char *const given[] = { "建国", "敏", "涛", "静", "立华", "凯", "芳", "志强", "晓燕",
					     "伟", "磊", "红", "国栋", "丽", "海峰", "婷", "斌", "霞" };
	int s = (int)rnd(d, 20);
	snprintf(out, 32, "%.3s%s", surnames + s * 3, given[rnd(d, 18)]);
}

static void contacts_of(struct demo *d, int a, int vvip, int64_t out[5], int *n)
{
	static const struct {
		const char *title, *dept, *rank;
		int boss;
	} roles[5] = { { "总经理", "总经办", "executive", -1 }, { "采购总监", "采购部", "director", 0 },
		       { "生产总监", "生产部", "director", 0 }, { "设备主管", "生产部", "manager", 2 },
		       { "IT经理", "信息部", "manager", 0 } };
	const struct viewer *v = &d->reps[d->rep_of[a]];
	*n = 2 + (int)rnd(d, 4);
	for (int c = 0; c < *n; c++) {
		char name[32], phone[24];
		person_name(d, name);
		snprintf(phone, sizeof phone, "139%08u", rnd(d, 100000000));
		json_t *portrait = json_pack("{s:{s:s},s:{s:s}}", "basic", "mobile", phone, "background",
					     "career", "在本公司工作多年，负责该领域的决策与执行");
		if (rnd(d, 2))
			json_object_set_new(portrait, "needs", json_pack("{s:s}", "company",
				"降低单位成本，提高交付稳定性"));
		if (rnd(d, 2))
			json_object_set_new(portrait, "relations", json_pack("{s:s}", "view",
				"与采购部关系密切，对竞争对手评价一般"));
		if (vvip || rnd(d, 4) == 0)
			json_object_set_new(portrait, "deep", json_pack("{s:s}", "note",
				"透露明年预算将上调，供应商名单会重新评审"));
		if (vvip && rnd(d, 2))
			json_object_set_new(portrait, "extended", json_pack("{s:s,s:s}", "hobby", "钓鱼",
				"birthday", "10-12"));
		json_t *body = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o}", "account_id",
					 (json_int_t)d->accounts[a], "name", name, "title",
					 roles[c].title, "department", roles[c].dept, "rank",
					 roles[c].rank, "phone", phone, "portrait", portrait);
		if (roles[c].boss >= 0)
			json_object_set_new(body, "reports_to_id", json_integer(out[roles[c].boss]));
		out[c] = make(d, &kind_contact, v, body);
		d->contacts++;
	}
}

/* ---- deals ------------------------------------------------------------------------------------ */

/* Open at interest and move stage by stage to the target, so each move is in the history. */
static int64_t opportunity(struct demo *d, int a, const char *name, int target, long long amount,
			   int64_t contacts[5], int ncontacts)
{
	const struct viewer *v = &d->reps[d->rep_of[a]];
	char close[DATE_STR_LEN];
	day(target >= 6 ? -(int)rnd(d, 200) - 5 : (int)rnd(d, 150) + 10, close);
	int64_t id = make(d, &kind_opportunity, v,
			  json_pack("{s:I,s:s,s:s,s:I,s:s,s:[s]}", "account_id",
				    (json_int_t)d->accounts[a], "name", name, "stage", "interest",
				    "amount", (json_int_t)amount, "expected_close_on", close,
				    "competitors", rnd(d, 2) ? "海德堡" : "小森"));
	d->opps++;
	if (amount >= 500000000LL && ncontacts >= 3) {
		static const char *const roles[4] = { "decision_maker", "technical_gatekeeper", "user",
						      "coach" };
		static const char *const attitudes[5] = { "coach", "supporter", "neutral",
							  "non_supporter", "opponent" };
		for (int c = 0; c < ncontacts && c < 4; c++) {
			json_t *out = NULL;
			json_t *body = json_pack("{s:I,s:s,s:s,s:i}", "contact_id", (json_int_t)contacts[c],
						 "role", roles[c], "attitude", attitudes[rnd(d, 5)],
						 "influence", 2 + (int)rnd(d, 4));
			if (!d->failed && rec_create_in(d->s, &kind_stakeholder, v, "opportunity_id", id,
							body, &out, &d->e))
				fail(d, "stakeholder");
			json_decref(body);
			json_decref(out);
		}
	}
	int last = target == 7 ? 1 + (int)rnd(d, 4) : target;   /* lost: from somewhere midway */
	for (int s = 1; s <= last && s < 7; s++)
		change(d, &kind_opportunity, v, id, json_pack("{s:s}", "stage", model_stages[s]));
	if (target == 7)
		change(d, &kind_opportunity, v, id, json_pack("{s:s,s:s}", "stage", "lost", "lost_reason",
							     rnd(d, 2) ? "价格高于竞争对手 15%" :
							     "客户选择了本地供应商"));
	return id;
}

static void follow_ups(struct demo *d, int a, int64_t contacts[5], int ncontacts, int64_t opp)
{
	static const char *const channels[] = { "phone", "wechat", "visit", "phone", "wechat", "email",
						"meeting", "invite", "sms", "quote", "demo", "visit" };
	static const char *const summaries[] = {
		"拜访客户，了解现有设备使用情况和痛点", "电话沟通项目进度，客户确认预算在审批中",
		"微信发送案例资料，对方表示会转给技术部", "参加客户技术交流会，演示整体方案思路",
		"邀请客户来公司参观生产线，对方同意下月来访", "发送报价单，等待采购部反馈",
		"Sent the reference list and the service terms", "回访使用情况，客户提出两个改进点",
	};
	const struct viewer *v = &d->reps[d->rep_of[a]];
	int n = (int)rnd(d, 16) + (a % 9 == 0 ? 12 : 1);
	int gap = a % 7 == 0 ? 100 : 0;   /* some customers have gone quiet: sleeping */
	for (int t = 0; t < n; t++) {
		char at[TIME_STR_LEN];
		int ch = (int)rnd(d, 12);
		when(gap + (int)rnd(d, 360 - gap), 9 + (int)rnd(d, 9), at);
		json_t *body = json_pack("{s:I,s:s,s:s,s:s,s:b,s:[I]}", "account_id",
					 (json_int_t)d->accounts[a], "channel", channels[ch],
					 "occurred_at", at, "summary", summaries[rnd(d, 8)],
					 "effective", rnd(d, 10) != 0, "contact_ids",
					 (json_int_t)contacts[rnd(d, (uint32_t)ncontacts)]);
		if (opp && (ch >= 9 || rnd(d, 3) == 0))
			json_object_set_new(body, "opportunity_id", json_integer(opp));
		make(d, &kind_activity, v, body);
		d->activities++;
	}
}

/* Repeat buyers order a consumable every 60-120 days; some have stopped (repurchase overdue). */
static void orders_of(struct demo *d, int a, const char *product)
{
	const struct viewer *v = &d->reps[d->rep_of[a]];
	int n = a % 3 == 0 ? 3 + (int)rnd(d, 6) : a % 3 == 1 ? 1 : 0;
	int every = 60 + (int)rnd(d, 60), stopped = a % 12 == 0 ? 200 : 0;
	for (int o = 0; o < n; o++) {
		char on[DATE_STR_LEN], paid[DATE_STR_LEN];
		int ago = stopped + (n - 1 - o) * every + (int)rnd(d, 10) + 3;
		day(-ago, on);
		day(-ago + 30, paid);
		json_t *body = json_pack("{s:I,s:s,s:I,s:I,s:s}", "account_id", (json_int_t)d->accounts[a],
					 "product", product, "quantity", (json_int_t)(10 + rnd(d, 90)),
					 "amount", (json_int_t)(2000000 + rnd(d, 30000000)),
					 "ordered_on", on);
		if (ago > 30)
			json_object_set_new(body, "paid_on", json_string(paid));
		make(d, &kind_order, v, body);
		d->orders++;
	}
}

static void customers(struct demo *d)
{
	static const char *const importance[] = { "C", "C", "B", "B", "B", "A", "C", "B", "A", "C" };
	static const char *const lifecycles[] = { "acquire", "grow", "mature", "decline", "grow" };
	static const char *const scales[] = { "50-200人", "200-500人", "500-1000人", "1000-5000人",
					      "5000人以上" };
	static const char *const sources[] = { "展会", "官网", "转介绍", "电话营销", "老客户推荐" };
	for (int a = 0; a < NACCOUNTS && !d->failed; a++) {
		int ind = (int)rnd(d, 7);
		char name[160];
		snprintf(name, sizeof name, "%s%s%s", cities[a % 15], words[a / 15], industries[ind].suffix);
		const char *imp = a % 20 == 3 ? "VVIP" : importance[rnd(d, 10)];
		d->rep_of[a] = (int)rnd(d, NREPS);
		d->accounts[a] = make(d, &kind_account, &d->reps[d->rep_of[a]],
				      json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:i,s:i}]}",
						"name", name, "industry", industries[ind].industry,
						"scale", scales[rnd(d, 5)], "importance", imp,
						"lifecycle", lifecycles[rnd(d, 5)], "source",
						sources[rnd(d, 5)], "address", cities[a % 15],
						"installed_base", "brand", rnd(d, 2) ? "海德堡" : "小森",
						"quantity", 1 + (int)rnd(d, 6), "years", 1 + (int)rnd(d, 9)));
		int64_t contacts[5] = { 0 };
		int nc = 0;
		contacts_of(d, a, !strcmp(imp, "VVIP"), contacts, &nc);
		int64_t opp = 0;
		if (a % 2 == 0 || !strcmp(imp, "VVIP")) {
			char oname[200];
			snprintf(oname, sizeof oname, "%s%s项目", words[a / 15],
				 a % 4 ? "产线升级" : "年度框架协议");
			long long amount = (long long)(20 + rnd(d, 1500)) * 1000000LL;
			opp = opportunity(d, a, oname, (int)rnd(d, 8), amount, contacts, nc);
		}
		follow_ups(d, a, contacts, nc, opp);
		orders_of(d, a, industries[ind].product);
	}
}

/* Leads from several sources, and a few customers given up to the public pool. */
static void leads_and_pool(struct demo *d)
{
	static const char *const statuses[] = { "new", "new", "working", "working", "disqualified" };
	static const char *const sources[] = { "展会", "官网", "转介绍", "电话营销" };
	for (int i = 0; i < 40 && !d->failed; i++) {
		char company[160], person[32];
		snprintf(company, sizeof company, "%s%s新材料有限公司", cities[(i * 7) % 15],
			 words[(i * 3) % 20]);
		person_name(d, person);
		const struct viewer *v = &d->reps[i % NREPS];
		make(d, &kind_lead, v, json_pack("{s:s,s:s,s:s,s:s,s:I}", "company", company,
						 "contact_name", person, "source", sources[i % 4],
						 "status", statuses[rnd(d, 5)], "assignee_id",
						 (json_int_t)v->user_id));
		d->leads++;
	}
	for (int a = 5; a < NACCOUNTS && d->pooled < 20 && !d->failed; a += 13) {
		json_t *out = NULL, *body = json_pack("{s:s}", "reason", "客户长期无采购计划，放入公海");
		const struct viewer *m = &d->mgr[d->reps[d->rep_of[a]].team_id == d->mgr[1].team_id ||
						 d->rep_of[a] == 2 || d->rep_of[a] >= 7];
		if (pool_park(d->s, m, d->accounts[a], body, &out, &d->e) == 0)
			d->pooled++;
		else if (d->e.code != DM_ECONFLICT && d->e.code != DM_EFORBIDDEN &&
			 d->e.code != DM_ENOTFOUND)
			fail(d, "park");
		json_decref(body);
		json_decref(out);
	}
}

/* Quotas for this quarter and the last: every rep's, and each department's (their sum). */
static void quotas(struct demo *d)
{
	char today[DATE_STR_LEN], period[2][24];
	date_today_offset(480, today);
	int y = atoi(today), q = (atoi(today + 5) - 1) / 3 + 1;
	snprintf(period[0], sizeof period[0], "%04d-Q%d", y % 10000, q);
	snprintf(period[1], sizeof period[1], "%04d-Q%d", (q == 1 ? y - 1 : y) % 10000, q == 1 ? 4 : q - 1);
	for (int p = 0; p < 2 && !d->failed; p++) {
		long long team_total[2] = { 0, 0 };
		for (int r = 0; r < NREPS && !d->failed; r++) {
			long long amount = (long long)(300 + rnd(d, 900)) * 1000000LL;
			team_total[d->reps[r].team_id == d->mgr[1].team_id] += amount;
			make(d, &kind_quota, &viewer_system,
			     json_pack("{s:I,s:s,s:I}", "user_id", (json_int_t)d->reps[r].user_id, "period",
				       period[p], "amount", (json_int_t)amount));
		}
		for (int m = 0; m < 2 && !d->failed; m++)
			make(d, &kind_quota, &viewer_system,
			     json_pack("{s:I,s:s,s:I}", "team_id", (json_int_t)d->mgr[m].team_id, "period",
				       period[p], "amount", (json_int_t)team_total[m]));
	}
}

static int load_tx(struct store *s, void *arg)
{
	struct demo *d = arg;
	people(d);
	customers(d);
	leads_and_pool(d);
	quotas(d);
	return d->failed ? DM_EINTERNAL : 0;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "admin-password", required_argument, NULL, 'p' },
					      { "seed", required_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *db = cli_default_db(), *pw = NULL;
	unsigned long long seed = DEMO_SEED;
	int c;
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'p': pw = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
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
		printf("%s already has accounts; the demo company was not loaded\n", cli_db_shown(db));
		store_close(d.s);
		return 0;
	}
	d.rng = seed ? seed : DEMO_SEED;
	int64_t t0 = time_now_ms();
	if (store_write(d.s, load_tx, &d, &d.e))
		d.failed = 1;
	store_close(d.s);
	if (d.failed)
		return 1;
	printf("demo company loaded into %s in %lld ms: %d accounts (%lld in the pool), %lld contacts, "
	       "%lld opportunities, %lld follow-ups, %lld orders, %lld leads\n", cli_db_shown(db),
	       (long long)(time_now_ms() - t0), NACCOUNTS, (long long)d.pooled, (long long)d.contacts,
	       (long long)d.opps, (long long)d.activities, (long long)d.orders, (long long)d.leads);
	printf("demo sign-ins (password " DEMO_PASSWORD "):\n"
	       "  wang   manager, 华东销售部 (上海组 and 杭州组: li, zhang and four more reps)\n"
	       "  zhao   manager, 华北销售部 (chen and five more reps, with 天津组)\n"
	       "  li, zhang   reps in 上海组;  chen   rep in 华北销售部\n");
	return 0;
}
