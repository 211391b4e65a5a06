/* generate.c — `dealmap generate`: the large company of the benchmark (issue 9), deterministic
 * from a seed and a scale. At scale 1: 500 reps in a team tree (5 departments of 10 groups of 10),
 * 1,000,000 accounts (Chinese and English names), 3,000,000 contacts, 1,000,000 opportunities over
 * every stage with their stage history, 10,000,000 activities over two years, 2,000,000 orders.
 *
 * It loads through dealmap's bulk path: store_write batches of BATCH rows, each row inserted with
 * store_import_insert (one prepared statement per kind, one audit row per record). Accounts and
 * opportunities go through the rules (rec_create_tx: ownership, owner history, stage history);
 * contacts, activities and orders are checked by the field table (model_check) and inserted
 * directly, because their rules' checks (the parent account visible and writable, contacts of the
 * same account) are reads per row that the generator satisfies by construction. Users and teams
 * are created by the rules; only the three bench users get a password (hashing is slow).
 * Dates are relative to the day it runs (the agenda and the reports look at today); deals and
 * their stage moves are dated over the last two years (one_opportunity). */
#include "cli.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include "../domain/records.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "../base/banned.h"

#define BATCH 20000      /* rows per transaction at least */
/* and more with a large page cache: a transaction of random rows writes each page it changed
 * once at its commit (then copied again by the checkpoint), so fewer, larger ones write less;
 * one row of the activities adds ≈ 1 KiB (the row, its audit row, its index entries), and the
 * transaction's pages must stay in the cache beside the indexes' working set */
#define BATCH_KIB_PER_ROW 8
#define NDEPTS 5
#define NGROUPS 10      /* per department */
#define NPERGROUP 10    /* reps per group */
#define NREPS (NDEPTS * NGROUPS * NPERGROUP)
#define GEN_PASSWORD "Bench-Password-2026"
#define GEN_CACHE_MAX_MB 8192
#define GEN_CACHE_MAX_MB_S "8192"

static const char usage[] =
	"usage: dealmap generate --db PATH [--scale S] [--seed N] [--password PW] [--cache-mb MB]\n"
	"                        [--no-bulk] [--batch ROWS]\n"
	"\n"
	"Load the benchmark's large company into a new database (issue 9). At --scale 1: 500 reps,\n"
	"1M accounts, 3M contacts, 1M opportunities with stage history, 10M activities, 2M orders.\n"
	"Prints the rows per second of each table. Sign-ins (password PW, default " GEN_PASSWORD "):\n"
	"admin; mgr1 (manager of department 1: 100 reps); rep1 (a rep of department 1).\n"
	"The writer keeps up to MB of the database in memory while it loads (default: half the\n"
	"memory available, at most " GEN_CACHE_MAX_MB_S " MB). Activities go in through the store's\n"
	"bulk path (their derived tables filled once per transaction); --no-bulk loads them row by\n"
	"row through the triggers instead, for comparison (the same data, slower). --batch: rows\n"
	"per transaction (default: 20,000, more with a large cache).\n";

enum phase { PH_ACCOUNTS, PH_CONTACTS, PH_OPPS, PH_ACTIVITIES, PH_ORDERS, PH_DONE };
static const char *const phase_names[] = { "accounts", "contacts", "opportunities", "activities",
					   "orders" };

struct gen {
	struct store *s;
	struct dm_err e;
	int failed;
	uint64_t rng;
	struct rec_batch batch;
	const char *password;
	int64_t cache_mb;        /* the writer's page cache for the load (store_bulk_memory) */
	int64_t batch_rows;      /* rows per transaction */
	int no_bulk;             /* --no-bulk: activities through their triggers */
	int dry;                 /* one_activity draws only (skip_activities) */
	struct viewer reps[NREPS];
	int64_t naccounts, ncontacts, nopps, nactivities, norders;
	int64_t *account_id;     /* per account index */
	int32_t *rep_of;         /* per account index: its owner's rep index */
	int64_t *contact_first;  /* per account index: id of its first contact (3 in a row) */
	int64_t *opp_id;         /* per account index: one opportunity (0 = none) */
	enum phase ph;
	int64_t done;            /* rows done in the phase */
	int64_t extra;           /* stage-history moves, owner-history rows */
	int64_t today_ms;        /* midnight UTC of today */
};

static uint32_t rnd(struct gen *g, uint32_t n)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return (uint32_t)(g->rng % n);
}

static int fail(struct gen *g, const char *what)
{
	if (!g->failed)
		fprintf(stderr, "dealmap generate: %s: %s %s\n", what, g->e.field, g->e.message);
	g->failed = 1;
	return 0;
}

/* Create through the rules; returns the id (0 after a failure). Takes body. */
static int64_t make(struct gen *g, const struct kind *k, const struct viewer *v, json_t *body)
{
	int64_t id = 0;
	if (!g->failed && rec_create_tx(g->s, k, v, body, &g->batch, &id, &g->e))
		fail(g, k->name);
	json_decref(body);
	return id;
}

/* Check by the field table and insert in bulk (no per-row reads). Takes body. */
static void insert(struct gen *g, const struct kind *k, const struct viewer *v, json_t *body,
		   const char *user_field)
{
	json_t *rec = NULL;
	int64_t id;
	if (!g->failed && model_check(k, body, CHECK_CREATE, &rec, &g->e) == 0) {
		if (user_field)
			json_object_set_new(rec, user_field, json_integer(v->user_id));
		if (store_import_insert(g->s, k, rec, v->user_id, NULL, 0, &id, &g->e))
			fail(g, k->name);
	} else {
		fail(g, k->name);
	}
	json_decref(rec);
	json_decref(body);
}

static void day_str(struct gen *g, int offset_days, char out[DATE_STR_LEN])
{
	char t[TIME_STR_LEN];
	time_format(g->today_ms + (int64_t)offset_days * 86400000LL, t);
	memcpy(out, t, 10);
	out[10] = '\0';
}

/* ---- memory ---------------------------------------------------------------------------------- */

/* The default page cache of the load: half of MemAvailable, at most GEN_CACHE_MAX_MB (64 MB when
 * /proc/meminfo cannot be read). The activities' seven indexes and the tables their triggers
 * maintain take random pages: with them all in memory a row costs what it costs at small scale. */
static int64_t cache_mb_default(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long long kib = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %lld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	int64_t mb = kib > 0 ? kib / 1024 / 2 : 64;
	return mb > GEN_CACHE_MAX_MB ? GEN_CACHE_MAX_MB : mb;
}

static int memory_tx(struct store *s, void *arg)
{
	struct gen *g = arg;
	return store_bulk_memory(s, g->cache_mb * 1024 * 1024, &g->e);
}

/* ---- the people ------------------------------------------------------------------------------ */

static int64_t user(struct gen *g, const char *name, const char *display, const char *role,
		    int64_t team, int password)
{
	json_t *body = json_pack("{s:s,s:s,s:s}", "username", name, "display_name", display, "role",
				 role);
	if (team)
		json_object_set_new(body, "team_id", json_integer(team));
	if (password)
		json_object_set_new(body, "password", json_string(g->password));
	return make(g, &kind_user, &viewer_system, body);
}

static void set_manager(struct gen *g, int64_t team, int64_t manager)
{
	json_t *rec = NULL, *body = json_pack("{s:I}", "manager_id", (json_int_t)manager);
	if (!g->failed && rec_update(g->s, &kind_team, &viewer_system, team, body, -1, &rec, &g->e))
		fail(g, "team");
	json_decref(body);
	json_decref(rec);
}

static const char *const surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗";

static int people_tx(struct store *s, void *arg)
{
	struct gen *g = arg;
	char name[64], display[64];
	int64_t company = make(g, &kind_team, &viewer_system, json_pack("{s:s}", "name", "全国销售"));
	for (int d = 0; d < NDEPTS; d++) {
		snprintf(name, sizeof name, "销售%d部", d + 1);
		int64_t dept = make(g, &kind_team, &viewer_system,
				    json_pack("{s:s,s:I}", "name", name, "parent_id", (json_int_t)company));
		snprintf(name, sizeof name, "mgr%d", d + 1);
		snprintf(display, sizeof display, "%.3s经理%d", surnames + d * 3, d + 1);
		set_manager(g, dept, user(g, name, display, "manager", dept, d == 0));
		for (int t = 0; t < NGROUPS; t++) {
			snprintf(name, sizeof name, "销售%d部%d组", d + 1, t + 1);
			int64_t grp = make(g, &kind_team, &viewer_system,
					   json_pack("{s:s,s:I}", "name", name, "parent_id", (json_int_t)dept));
			snprintf(name, sizeof name, "lead%d_%d", d + 1, t + 1);
			snprintf(display, sizeof display, "%.3s组长%d.%d", surnames + t * 3, d + 1, t + 1);
			set_manager(g, grp, user(g, name, display, "manager", grp, 0));
			for (int r = 0; r < NPERGROUP; r++) {
				int i = (d * NGROUPS + t) * NPERGROUP + r;
				snprintf(name, sizeof name, "rep%d", i + 1);
				snprintf(display, sizeof display, "%.3s%d", surnames + (i % 20) * 3, i + 1);
				g->reps[i] = (struct viewer){ user(g, name, display, "rep", grp, i == 0),
							      ROLE_REP, grp };
			}
		}
	}
	return g->failed ? DM_EINTERNAL : 0;
}

/* ---- names ------------------------------------------------------------------------------------ */

static const char *const cities[30] = {
	"上海", "杭州", "苏州", "南京", "北京", "天津", "宁波", "无锡", "合肥", "济南", "青岛", "广州",
	"深圳", "成都", "武汉", "重庆", "西安", "长沙", "郑州", "沈阳", "大连", "厦门", "福州", "昆明",
	"南昌", "太原", "石家庄", "哈尔滨", "长春", "南宁" };
static const char *const cities_en[30] = {
	"Shanghai", "Hangzhou", "Suzhou", "Nanjing", "Beijing", "Tianjin", "Ningbo", "Wuxi", "Hefei",
	"Jinan", "Qingdao", "Guangzhou", "Shenzhen", "Chengdu", "Wuhan", "Chongqing", "Xian",
	"Changsha", "Zhengzhou", "Shenyang", "Dalian", "Xiamen", "Fuzhou", "Kunming", "Nanchang",
	"Taiyuan", "Shijiazhuang", "Harbin", "Changchun", "Nanning" };
/* 120 characters for trade names: two of them make 14,400 names per city and industry */
static const char trade[] =
	"申达华信恒远中联港金鼎宏图瑞丰天成新东方大博鑫源永盛泰明辉嘉禾正国安宝隆昌盈富康"
	"兴旺德美佳和顺通利祥益寿福喜乐凯晨光辰星月海山川江河湖林森铭杰俊豪英雄伟伦雅静秀"
	"丽芳菲龙凤鹏飞腾翔云霞彩虹锦绣荣耀昊宇宙乾坤元亨贞吉麟骏驰航精工智创科技松柏竹梅";
_Static_assert(sizeof trade == 120 * 3 + 1, "120 distinct three-byte characters");
static const struct {
	const char *industry, *suffix, *en, *product;
} industries[7] = {
	{ "印刷包装", "印务包装有限公司", "Printing", "胶印耗材" },
	{ "电子制造", "电子科技有限公司", "Electronics", "贴片设备维保" },
	{ "机械设备", "机械制造有限公司", "Machinery", "数控刀具" },
	{ "通信设备", "通信技术股份有限公司", "Telecom", "光模块" },
	{ "物流", "物流集团有限公司", "Logistics", "仓储软件年费" },
	{ "食品饮料", "食品有限公司", "Foods", "包装材料" },
	{ "医药", "医药股份有限公司", "Pharma", "洁净室耗材" },
};
static const char *const words_en[60] = {
	"Apex", "Northwind", "Blue", "Summit", "Golden", "Pacific", "Orient", "Harbor", "Silver",
	"Eastern", "Great", "Bright", "Nova", "Delta", "Prime", "Union", "Crown", "Pioneer", "Star",
	"Vertex", "Zenith", "Atlas", "Beacon", "Cedar", "Dragon", "Eagle", "Falcon", "Granite",
	"Horizon", "Iron", "Jade", "Kingdom", "Lotus", "Maple", "Noble", "Ocean", "Phoenix", "Quartz",
	"River", "Sun", "Tiger", "United", "Vista", "Willow", "Yangtze", "Pearl", "Royal", "Swift",
	"Titan", "Unity", "Venture", "Wave", "Allied", "Bridge", "Canyon", "Dynamic", "Evergreen",
	"Frontier", "Global", "Heritage" };
static const char *const forms_en[5] = { "Co., Ltd.", "Inc.", "Group", "Holdings", "Ltd." };

/* One UTF-8 character of trade[] (all 3 bytes). */
static void trade_char(int i, char out[4])
{
	memcpy(out, trade + i * 3, 3);
	out[3] = '\0';
}

/* Account i's name: a bijection of i (scattered) onto city × trade name × industry, so names are
 * unique; 3 in 10 are English. */
static void account_name(int64_t i, int *ind, char *out, size_t n)
{
	uint64_t x = ((uint64_t)i * 2654435761u) % 3024000u;   /* 30 × 120 × 120 × 7 */
	*ind = (int)(x % 7);
	x /= 7;
	int c2 = (int)(x % 120), c1 = (int)(x / 120 % 120), city = (int)(x / 14400);
	if (i % 10 < 7) {
		char a[4], b[4];
		trade_char(c1, a);
		trade_char(c2, b);
		snprintf(out, n, "%s%s%s%s", cities[city], a, b, industries[*ind].suffix);
	} else {
		snprintf(out, n, "%s %s %s %s %s", cities_en[city], words_en[c1 % 60],
			 words_en[(c2 + c1 / 60) % 60], industries[*ind].en,
			 forms_en[(c1 / 60 + c2 / 60 * 2) % 5]);
	}
}

/* ---- the phases: each batch call does up to BATCH rows of the current phase ----------------- */

static void one_account(struct gen *g, int64_t a)
{
	static const char *const importance[] = { "C", "C", "B", "B", "B", "A", "C", "B", "A", "C" };
	static const char *const lifecycles[] = { "acquire", "grow", "mature", "decline", "grow" };
	static const char *const sources[] = { "展会", "官网", "转介绍", "电话营销", "老客户推荐" };
	char name[200];
	int ind;
	account_name(a, &ind, name, sizeof name);
	int rep = (int)rnd(g, NREPS);
	g->rep_of[a] = rep;
	g->account_id[a] = make(g, &kind_account, &g->reps[rep],
				json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", name, "industry",
					  industries[ind].industry, "importance",
					  a % 500 == 3 ? "VVIP" : importance[rnd(g, 10)], "lifecycle",
					  lifecycles[rnd(g, 5)], "source", sources[rnd(g, 5)]));
}

static void one_contact(struct gen *g, int64_t i)
{
	static const char *const given[] = { "建国", "敏", "涛", "静", "立华", "凯", "芳", "志强", "晓燕",
					     "伟", "磊", "红", "国栋", "丽", "海峰", "婷", "斌", "霞" };
	static const struct {
		const char *title, *dept, *rank;
	} roles[3] = { { "总经理", "总经办", "executive" }, { "采购总监", "采购部", "director" },
		       { "设备主管", "生产部", "manager" } };
	int64_t a = i / 3;
	int r = (int)(i % 3);
	char name[32], phone[24];
	snprintf(name, sizeof name, "%.3s%s", surnames + rnd(g, 20) * 3, given[rnd(g, 18)]);
	snprintf(phone, sizeof phone, "139%08u", rnd(g, 100000000));
	insert(g, &kind_contact, &g->reps[g->rep_of[a]],
	       json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "account_id", (json_int_t)g->account_id[a],
			 "name", name, "title", roles[r].title, "department", roles[r].dept, "rank",
			 roles[r].rank, "phone", phone), NULL);
	if (r == 0) {
		/* ids are consecutive within a batch transaction: the first of the three */
		g->contact_first[a] = 0;
	}
}

/* Open at interest through the rules, then move stage by stage to the target (history rows and
 * the final stage written by the store, as rec_update would, without re-reading the record).
 * A deal is dated over the last two years: created on a day of them, each move 3 to 40 days
 * after the one before (never later than the load), so the funnel's figures by day and period
 * are those of a company with history, not of one day. */
static void one_opportunity(struct gen *g, int64_t a)
{
	const struct viewer *v = &g->reps[g->rep_of[a]];
	int target = (int)rnd(g, 8);   /* 0..6 = interest..won, 7 = lost */
	char close[DATE_STR_LEN], name[64];
	day_str(g, target >= 6 ? -(int)rnd(g, 700) - 5 : (int)rnd(g, 180) + 5, close);
	snprintf(name, sizeof name, "项目%lld", (long long)a + 1);
	int64_t id = make(g, &kind_opportunity, v,
			  json_pack("{s:I,s:s,s:s,s:I,s:s}", "account_id", (json_int_t)g->account_id[a],
				    "name", name, "stage", "interest", "amount",
				    (json_int_t)((20 + rnd(g, 1500)) * 1000000LL), "expected_close_on",
				    close));
	g->opp_id[a] = id;
	if (g->failed)
		return;
	int64_t now = time_now_ms(), at = g->today_ms - (int64_t)rnd(g, 730) * 86400000LL +
					   (int64_t)rnd(g, 36000) * 1000LL;
	char when[TIME_STR_LEN];
	if (at > now - 60000)
		at = now - 60000;
	time_format(at, when);
	if (store_opportunity_backdate(g->s, id, when, &g->e))
		fail(g, "opportunity date");
	if (g->failed || target == 0)
		return;
	int last = target == 7 ? 1 + (int)rnd(g, 4) : target;
	const char *from = model_stages[0];
	for (int s = 1; s <= last + (target == 7) && !g->failed; s++) {
		const char *to = s > last ? "lost" : model_stages[s];
		at += (int64_t)(3 + rnd(g, 38)) * 86400000LL;
		if (at > now - 60000 + s)
			at = now - 60000 + s;   /* ids order moves of one instant */
		time_format(at, when);
		if (store_stage_add(g->s, id, from, to, v->user_id, when, &g->e))
			fail(g, "stage");
		from = to;
		g->extra++;
	}
	json_t *changes = json_pack("{s:s}", "stage", from);
	if (target == 7)
		json_object_set_new(changes, "lost_reason", json_string("价格高于竞争对手 15%"));
	int changed = 0;
	if (!g->failed && store_update(g->s, &kind_opportunity, id, changes, v->user_id, &changed, &g->e))
		fail(g, "opportunity");
	json_decref(changes);
}

static void one_activity(struct gen *g, int64_t i)
{
	static const char *const channels[] = { "phone", "wechat", "visit", "phone", "wechat", "email",
						"meeting", "invite", "sms", "quote", "demo", "visit" };
	static const char *const summaries[] = {
		"拜访客户，了解现有设备使用情况和痛点", "电话沟通项目进度，客户确认预算在审批中",
		"微信发送案例资料，对方表示会转给技术部", "发送报价单，等待采购部反馈",
		"Sent the reference list and the service terms", "回访使用情况，客户提出两个改进点",
	};
	int64_t a = (int64_t)rnd(g, (uint32_t)g->naccounts);
	char at[TIME_STR_LEN];
	int ch = (int)rnd(g, 12);
	time_format(g->today_ms - (int64_t)rnd(g, 730) * 86400000LL + (int64_t)rnd(g, 36000) * 1000LL,
		    at);
	json_t *body = json_pack("{s:I,s:s,s:s,s:s,s:b,s:[I]}", "account_id",
				 (json_int_t)g->account_id[a], "channel", channels[ch], "occurred_at",
				 at, "summary", summaries[rnd(g, 6)], "effective", rnd(g, 10) != 0,
				 "contact_ids", (json_int_t)(g->contact_first[a] + rnd(g, 3)));
	if (g->opp_id[a] && (ch >= 9 || rnd(g, 3) == 0))
		json_object_set_new(body, "opportunity_id", json_integer(g->opp_id[a]));
	if (rnd(g, 4) == 0) {
		char next[DATE_STR_LEN];
		day_str(g, (int)rnd(g, 40) - 20, next);
		json_object_set_new(body, "next_touch_on", json_string(next));
	}
	if (g->dry)
		json_decref(body);
	else
		insert(g, &kind_activity, &g->reps[g->rep_of[a]], body, "user_id");
}

static void one_order(struct gen *g, int64_t i)
{
	int64_t a = (int64_t)rnd(g, (uint32_t)g->naccounts);
	char on[DATE_STR_LEN];
	int ind;
	char name[200];
	account_name(a, &ind, name, sizeof name);
	int ago = (int)rnd(g, 730);
	day_str(g, -ago, on);
	json_t *body = json_pack("{s:I,s:s,s:I,s:I,s:s}", "account_id", (json_int_t)g->account_id[a],
				 "product", industries[ind].product, "quantity",
				 (json_int_t)(10 + rnd(g, 90)), "amount",
				 (json_int_t)(2000000 + rnd(g, 30000000)), "ordered_on", on);
	if (ago > 30) {
		char paid[DATE_STR_LEN];
		day_str(g, -ago + 30, paid);
		json_object_set_new(body, "paid_on", json_string(paid));
	}
	insert(g, &kind_order, &g->reps[g->rep_of[a]], body, NULL);
}

static int64_t phase_rows(struct gen *g, enum phase p)
{
	switch (p) {
	case PH_ACCOUNTS: return g->naccounts;
	case PH_CONTACTS: return g->ncontacts;
	case PH_OPPS: return g->nopps;
	case PH_ACTIVITIES: return g->nactivities;
	case PH_ORDERS: return g->norders;
	default: return 0;
	}
}

/* The phases loaded in a bulk bracket (store_bulk_begin): accounts, and activities unless
 * --no-bulk (then their triggers run row by row: the reference test_97 compares with). */
static const struct kind *bulk_kind(struct gen *g)
{
	if (g->ph == PH_ACCOUNTS)
		return &kind_account;
	if (g->ph == PH_ACTIVITIES && !g->no_bulk)
		return &kind_activity;
	return NULL;
}

static int batch_tx(struct store *s, void *arg)
{
	struct gen *g = arg;
	int64_t end = g->done + g->batch_rows, total = phase_rows(g, g->ph);
	if (end > total)
		end = total;
	memset(&g->batch, 0, sizeof g->batch);
	const struct kind *bulk = bulk_kind(g);
	if (bulk && store_bulk_begin(s, bulk, &g->e)) {
		fail(g, phase_names[g->ph]);
		return DM_EINTERNAL;
	}
	for (int64_t i = g->done; i < end && !g->failed; i++) {
		switch (g->ph) {
		case PH_ACCOUNTS: one_account(g, i); break;
		case PH_CONTACTS: one_contact(g, i); break;
		case PH_OPPS: one_opportunity(g, i); break;
		case PH_ACTIVITIES: one_activity(g, i); break;
		case PH_ORDERS: one_order(g, i); break;
		default: break;
		}
	}
	if (bulk && !g->failed && store_bulk_end(s, bulk, &g->e))
		fail(g, phase_names[g->ph]);
	g->done = end;
	return g->failed ? DM_EINTERNAL : 0;
}

/* Contact ids: the store numbers rows consecutively, so the first contact of account a is the
 * first id of the phase plus 3a. Checked at the end of the phase against the table. */
static int contact_ids(struct gen *g)
{
	json_t *items = NULL;
	struct store_query q = { .kind = &kind_contact, .viewer = NULL, .limit = 1 };
	if (store_list(g->s, &q, &items, &g->e))
		return fail(g, "contacts"), 1;
	int64_t first = json_integer_value(json_object_get(json_array_get(items, 0), "id"));
	json_decref(items);
	for (int64_t a = 0; a < g->naccounts; a++)
		g->contact_first[a] = first + 3 * a;
	return 0;
}

/* CPU seconds of the process so far (all threads: the writer does the work). On a machine
 * shared with other work the rows per CPU second compare runs better than the wall time. */
static double cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The draws of the activities, without writing them: the random state the orders begin from. */
static void skip_activities(struct gen *g)
{
	g->dry = 1;
	for (int64_t i = 0; i < g->nactivities; i++)
		one_activity(g, i);
	g->dry = 0;
}

static int run_phase(struct gen *g)
{
	int64_t total = phase_rows(g, g->ph), t0 = time_now_ms();
	double cpu0 = cpu_seconds();
	g->done = 0;
	g->extra = 0;
	while (g->done < total && !g->failed)
		if (store_write(g->s, batch_tx, g, &g->e))
			fail(g, phase_names[g->ph]);
	if (g->failed)
		return 1;
	if (g->ph == PH_CONTACTS && contact_ids(g))
		return 1;
	double secs = (double)(time_now_ms() - t0) / 1000.0;
	printf("generate: %-13s %10lld rows in %7.1f s: %9.0f rows/s", phase_names[g->ph],
	       (long long)total, secs, secs > 0 ? (double)total / secs : 0.0);
	if (g->extra)
		printf(" (+%lld stage moves)", (long long)g->extra);
	printf(" [cpu %.1f s]\n", cpu_seconds() - cpu0);
	fflush(stdout);
	return 0;
}

/* The orders are written before the activities, with the rows they would have had after them
 * (the activities' draws are made first, then made again as they are written): an order that
 * moves its account to another segment bucket moves the account's whole contribution to the
 * segments' sums (migration 17's accounts_segments_au), its activities' days included, and
 * with the activities already in that was ≈ 470 µs of CPU an order against ≈ 95 µs. */
static int run_phases(struct gen *g)
{
	static const enum phase order[] = { PH_ACCOUNTS, PH_CONTACTS, PH_OPPS, PH_ORDERS,
					    PH_ACTIVITIES };
	uint64_t activities_rng = 0;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		g->ph = order[i];
		if (g->ph == PH_ORDERS) {
			activities_rng = g->rng;
			skip_activities(g);
		} else if (g->ph == PH_ACTIVITIES) {
			g->rng = activities_rng;
		}
		if (run_phase(g))
			return 1;
	}
	return 0;
}

int cmd_generate(int argc, char **argv)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "scale", required_argument, NULL, 'S' },
					      { "seed", required_argument, NULL, 's' },
					      { "password", required_argument, NULL, 'p' },
					      { "cache-mb", required_argument, NULL, 'c' },
					      { "no-bulk", no_argument, NULL, 'n' },
					      { "batch", required_argument, NULL, 'b' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *db = NULL;
	double scale = 1.0;
	unsigned long long seed = 9;
	long long batch = 0;
	struct gen g;
	int c;
	memset(&g, 0, sizeof g);
	g.password = GEN_PASSWORD;
	g.cache_mb = cache_mb_default();
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'S': scale = strtod(optarg, NULL); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'p': g.password = optarg; break;
		case 'c': g.cache_mb = strtoll(optarg, NULL, 10); break;
		case 'n': g.no_bulk = 1; break;
		case 'b': batch = strtoll(optarg, NULL, 10); break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_error(usage, "generate: unknown or incomplete option %s",
						argv[optind - 1]);
		}
	}
	if (!db || optind < argc || !(scale > 0 && scale <= 10))
		return cli_usage_error(usage, "generate: --db PATH is required, --scale in (0, 10]");
	g.naccounts = (int64_t)(1000000 * scale + 0.5);
	if (g.naccounts < 100)
		g.naccounts = 100;
	g.ncontacts = 3 * g.naccounts;
	g.nopps = g.naccounts;
	g.nactivities = 10 * g.naccounts;
	g.norders = 2 * g.naccounts;
	if (cli_open(db, &g.s))
		return 1;
	int64_t n = 0;
	if (store_count(g.s, &kind_account, &n, &g.e) || n > 0) {
		fprintf(stderr, "dealmap generate: %s is not empty\n", db);
		store_close(g.s);
		return 1;
	}
	g.rng = seed ? seed : 9;
	g.today_ms = time_now_ms() - time_now_ms() % 86400000LL;
	g.account_id = xcalloc((size_t)g.naccounts, sizeof *g.account_id);
	g.rep_of = xcalloc((size_t)g.naccounts, sizeof *g.rep_of);
	g.contact_first = xcalloc((size_t)g.naccounts, sizeof *g.contact_first);
	g.opp_id = xcalloc((size_t)g.naccounts, sizeof *g.opp_id);
	int64_t t0 = time_now_ms();
	g.batch_rows = g.cache_mb * 1024 / BATCH_KIB_PER_ROW;   /* after --cache-mb */
	if (g.batch_rows < BATCH)
		g.batch_rows = BATCH;
	if (batch > 0)
		g.batch_rows = batch;
	int rc = cli_ensure_admin(g.s, g.password);
	if (!rc && store_write(g.s, memory_tx, &g, &g.e))
		fail(&g, "memory");
	if (!rc && !g.failed && store_write(g.s, people_tx, &g, &g.e))
		fail(&g, "people");
	if (!rc && !g.failed)
		rc = run_phases(&g);
	store_close(g.s);
	free(g.account_id);
	free(g.rep_of);
	free(g.contact_first);
	free(g.opp_id);
	if (rc || g.failed)
		return 1;
	printf("generate: scale %g seed %llu loaded into %s in %.1f s\n", scale, seed, cli_db_shown(db),
	       (double)(time_now_ms() - t0) / 1000.0);
	return 0;
}
