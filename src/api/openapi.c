/* openapi.c — the OpenAPI 3 document, generated from the route table and the model's field
 * tables: what the server routes and validates is what the document says. */
#include "api.h"
#include "../base/xmalloc.h"
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

static json_t *ref(const char *schema)
{
	char *r = xasprintf("#/components/schemas/%s", schema);
	json_t *o = json_pack("{s:s}", "$ref", r);
	free(r);
	return o;
}

static json_t *enum_list(const char *const *values)
{
	json_t *a = json_array();
	for (int i = 0; values[i]; i++)
		json_array_append_new(a, json_string(values[i]));
	return a;
}

static json_t *field_schema(const struct field *f)
{
	json_t *s;
	switch (f->type) {
	case FT_TEXT:
		s = json_pack("{s:s,s:I}", "type", "string", "maxLength", (json_int_t)f->max);
		break;
	case FT_INT:
	case FT_REF:
		s = json_pack("{s:s,s:s}", "type", "integer", "format", "int64");
		if (f->max)
			json_object_set_new(s, "maximum", json_integer(f->max));
		if (f->min || f->type == FT_REF)
			json_object_set_new(s, "minimum", json_integer(f->min));
		break;
	case FT_BOOL:
		s = json_pack("{s:s}", "type", "boolean");
		break;
	case FT_DATE:
		s = json_pack("{s:s,s:s}", "type", "string", "format", "date");
		break;
	case FT_TIME:
		s = json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
		break;
	case FT_ENUM:
		s = json_pack("{s:s,s:o}", "type", "string", "enum", enum_list(f->values));
		break;
	default:
		s = f->schema ? json_loads(f->schema, 0, NULL) : NULL;
		if (!s)
			s = json_object();
		break;
	}
	json_object_set_new(s, "description", json_string(f->doc ? f->doc : ""));
	if (!(f->flags & (FF_REQUIRED | FF_NOTNULL)) && strcmp(f->name, "id") &&
	    strcmp(f->name, "created_at") && strcmp(f->name, "updated_at") &&
	    strcmp(f->name, "version"))
		json_object_set_new(s, "nullable", json_true());
	if (f->flags & FF_READONLY)
		json_object_set_new(s, "readOnly", json_true());
	if (f->flags & FF_WRITEONLY)
		json_object_set_new(s, "writeOnly", json_true());
	if (f->dflt)
		json_object_set_new(s, "default", json_loads(f->dflt, JSON_DECODE_ANY, NULL));
	return s;
}

static json_t *kind_schema(const struct kind *k)
{
	json_t *props = json_object(), *req = json_array();
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		json_object_set_new(props, f->name, field_schema(f));
		if (f->flags & FF_REQUIRED)
			json_array_append_new(req, json_string(f->name));
	}
	return json_pack("{s:s,s:s,s:o,s:o,s:b}", "type", "object", "description", k->doc,
			 "properties", props, "required", req, "additionalProperties", 0);
}

static json_t *fixed_schemas(void)
{
	const char *text =
		"{\"Error\":{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":"
		"{\"type\":\"object\",\"required\":[\"code\",\"message\",\"field\"],\"properties\":{"
		"\"code\":{\"type\":\"string\",\"description\":\"Stable machine-readable code: "
		"invalid_json, invalid_field, required, unknown_field, read_only, invalid_param, "
		"unauthorized, invalid_credentials, csrf, forbidden, not_found, method_not_allowed, "
		"duplicate, conflict, version_mismatch, payload_too_large, rate_limited, unavailable, "
		"internal.\"},\"message\":{\"type\":\"string\"},\"field\":{\"type\":\"string\","
		"\"nullable\":true,\"description\":\"The field or parameter at fault.\"},"
		"\"existing_id\":{\"type\":\"integer\",\"description\":\"duplicate: the record "
		"already holding the name, when the caller may see it.\"}}}}},"
		"\"Login\":{\"type\":\"object\",\"required\":[\"username\",\"password\"],"
		"\"properties\":{\"username\":{\"type\":\"string\"},\"password\":{\"type\":\"string\","
		"\"writeOnly\":true}}},"
		"\"Session\":{\"type\":\"object\",\"properties\":{\"token\":{\"type\":\"string\","
		"\"description\":\"Bearer token (256-bit, hex); also set as the dm_session cookie.\"},"
		"\"csrf_token\":{\"type\":\"string\",\"description\":\"Also set as the dm_csrf "
		"cookie; send it as X-CSRF-Token on cookie-authenticated writes.\"},"
		"\"user\":{\"$ref\":\"#/components/schemas/User\"}}},"
		"\"Ok\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}},"
		"\"Health\":{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"}}},"
		"\"AuditEntry\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
		"\"at\":{\"type\":\"string\",\"format\":\"date-time\"},\"actor_id\":{\"type\":"
		"\"integer\",\"nullable\":true,\"description\":\"Who; null for the command line.\"},"
		"\"actor\":{\"type\":\"string\",\"nullable\":true},\"action\":{\"type\":\"string\","
		"\"enum\":[\"create\",\"update\",\"import\",\"archive\",\"restore\",\"password\",\"team\"]},"
		"\"field\":{\"type\":\"string\",\"nullable\":true,\"description\":\"The field "
		"changed; null for a create or an import, whose new is the record as made.\"},"
		"\"old\":{\"nullable\":true,"
		"\"description\":\"Value before (any JSON type).\"},\"new\":{\"nullable\":true,"
		"\"description\":\"Value after (any JSON type).\"}}},"
		"\"Texts\":{\"type\":\"object\",\"properties\":{\"zh-CN\":{\"type\":\"string\"},"
		"\"en\":{\"type\":\"string\"}}},"
		"\"Stage\":{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\","
		"\"enum\":[\"interest\",\"brewing\",\"design\",\"compare\",\"commit\",\"use\","
		"\"won\",\"lost\"]},\"label\":{\"$ref\":\"#/components/schemas/Texts\"},"
		"\"win_rate\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100,"
		"\"description\":\"Percent.\"},\"phase\":{\"type\":\"string\",\"enum\":["
		"\"confirm_needs\",\"evaluate\",\"resolve_concerns\",\"implement\",\"closed\"]},"
		"\"exit_criterion\":{\"$ref\":\"#/components/schemas/Texts\"}}},"
		"\"StagePatch\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
		"\"label\":{\"$ref\":\"#/components/schemas/Texts\"},\"win_rate\":{\"type\":"
		"\"integer\",\"minimum\":0,\"maximum\":100},\"exit_criterion\":{\"$ref\":"
		"\"#/components/schemas/Texts\"}}},"
		"\"StageChange\":{\"type\":\"object\",\"properties\":{\"from\":{\"type\":"
		"\"string\",\"nullable\":true,\"description\":\"null when the opportunity was "
		"created\"},\"to\":{\"type\":\"string\"},\"at\":{\"type\":\"string\",\"format\":"
		"\"date-time\"},\"by\":{\"type\":\"integer\",\"nullable\":true},\"by_name\":{"
		"\"type\":\"string\",\"nullable\":true}}},"
		"\"LinkInput\":{\"type\":\"object\",\"required\":[\"to\",\"kind\"],\"properties\":{"
		"\"to\":{\"type\":\"integer\",\"description\":\"Stakeholder id on the same "
		"opportunity.\"},\"kind\":{\"type\":\"string\",\"enum\":[\"ally\",\"rival\"]}}},"
		"\"Link\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
		"\"from\":{\"type\":\"integer\"},\"to\":{\"type\":\"integer\"},\"kind\":{\"type\":"
		"\"string\",\"enum\":[\"ally\",\"rival\"]}}},"
		"\"WarningItem\":{\"type\":\"object\",\"properties\":{\"opportunity_id\":{\"type\":"
		"\"integer\"},\"opportunity_name\":{\"type\":\"string\"},\"account_id\":{\"type\":"
		"\"integer\"},\"owner_id\":{\"type\":\"integer\",\"nullable\":true},\"stage\":{"
		"\"type\":\"string\"},\"code\":{\"type\":\"string\"},\"message\":{\"type\":"
		"\"string\"}}},"
		"\"TeamMember\":{\"type\":\"object\",\"required\":[\"user_id\"],\"properties\":{"
		"\"user_id\":{\"type\":\"integer\"},\"access\":{\"type\":\"string\",\"enum\":["
		"\"read\",\"write\"],\"default\":\"read\"},\"sensitive\":{\"type\":\"boolean\","
		"\"default\":false,\"description\":\"May see the deep and extended portrait blocks "
		"of a VVIP account.\"},\"username\":{\"type\":\"string\",\"readOnly\":true},"
		"\"display_name\":{\"type\":\"string\",\"readOnly\":true,\"nullable\":true}}},"
		"\"BuyerMap\":{\"type\":\"object\",\"properties\":{\"opportunity_id\":{\"type\":"
		"\"integer\"},\"account_id\":{\"type\":\"integer\"},\"org\":{\"type\":\"array\","
		"\"description\":\"Roots of the org chart: {contact_id, name, title, department, rank, "
		"faction, reports_to_id, relationship_level, stakeholder (or null), children[]}\","
		"\"items\":{\"type\":\"object\"}},\"coverage\":{\"type\":\"object\","
		"\"description\":\"decision_maker, user, technical_gatekeeper, coach: filled or "
		"not\",\"additionalProperties\":{\"type\":\"boolean\"}},"
		"\"decision_maker_attitude\":{\"type\":\"number\",\"nullable\":true,\"description\":"
		"\"Mean attitude score (+2 coach .. -2 opponent) of the decision makers.\"},"
		"\"opponents\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
		"\"next_moves\":{\"type\":\"array\",\"description\":\"Every non-opponent stakeholder "
		"below coach with the one-step-warmer attitude to aim for, most influential first.\","
		"\"items\":{\"type\":\"object\"}},\"links\":{\"type\":\"array\",\"items\":{"
		"\"$ref\":\"#/components/schemas/Link\"}}}},"
		"\"ParkInput\":{\"type\":\"object\",\"required\":[\"reason\"],\"properties\":{\"reason\":"
		"{\"type\":\"string\",\"description\":\"Why the account is given up (kept as pool_reason).\"}}},"
		"\"AssignInput\":{\"type\":\"object\",\"required\":[\"user_id\"],\"properties\":{"
		"\"user_id\":{\"type\":\"integer\"}}},"
		"\"OwnerChange\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
		"\"from\":{\"type\":\"integer\",\"nullable\":true,\"description\":\"null: the pool\"},"
		"\"to\":{\"type\":\"integer\",\"nullable\":true,\"description\":\"null: the pool\"},"
		"\"reason\":{\"type\":\"string\",\"enum\":[\"assigned\",\"claimed\",\"parked\","
		"\"reclaimed\",\"reassigned\",\"converted\"]},\"note\":{\"type\":\"string\",\"nullable\":true},"
		"\"by\":{\"type\":\"integer\",\"nullable\":true},\"by_name\":{\"type\":\"string\","
		"\"nullable\":true},\"at\":{\"type\":\"string\",\"format\":\"date-time\"},\"sweep_id\":{"
		"\"type\":\"integer\",\"nullable\":true}}},"
		"\"SweepInput\":{\"type\":\"object\",\"properties\":{\"as_of\":{\"type\":\"string\","
		"\"format\":\"date\"}}},"
		"\"SweepResult\":{\"type\":\"object\",\"properties\":{\"sweep_id\":{\"type\":\"integer\"},"
		"\"as_of\":{\"type\":\"string\",\"format\":\"date\"},\"moved\":{\"type\":\"array\",\"items\":{"
		"\"type\":\"object\",\"properties\":{\"account_id\":{\"type\":\"integer\"},\"from\":{\"type\":"
		"\"integer\"},\"why\":{\"type\":\"string\",\"enum\":[\"no_follow_up\",\"no_deal\"]}}}}}},"
		"\"Agenda\":{\"type\":\"object\",\"properties\":{\"date\":{\"type\":\"string\",\"format\":"
		"\"date\"},\"follow_ups\":{\"type\":\"array\",\"description\":\"Due and overdue, most "
		"overdue first: {account_id, account_name, contact {id, name} or null, next_touch_on, "
		"days_overdue, reason: planned|cadence}; the first limit of them\",\"items\":{\"type\":"
		"\"object\"}},\"follow_ups_total\":{\"type\":\"integer\",\"description\":\"All due and "
		"overdue follow-ups, of which follow_ups holds the first limit\"},\"warnings\":{\"type\":"
		"\"array\",\"items\":{\"$ref\":\"#/components/schemas/WarningItem\"}},\"sleeping\":{"
		"\"type\":\"array\",\"description\":\"Sleeping accounts, the longest quiet first: "
		"{account_id, account_name, last_touch_at}; the first limit of them\",\"items\":{\"type\":"
		"\"object\"}},\"sleeping_total\":{\"type\":\"integer\",\"description\":\"All sleeping "
		"accounts\"}}},"
		"\"InterventionItem\":{\"type\":\"object\",\"properties\":{\"account_id\":{\"type\":"
		"\"integer\"},\"account_name\":{\"type\":\"string\"},\"owner_id\":{\"type\":\"integer\","
		"\"nullable\":true},\"owner_name\":{\"type\":\"string\",\"nullable\":true},\"touches\":{"
		"\"type\":\"integer\"},\"last_touch_at\":{\"type\":\"string\",\"nullable\":true}}},"
		"\"Settings\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
		"\"park_min_touches\":{\"type\":\"integer\",\"default\":12},\"never_park\":{\"type\":"
		"\"array\",\"items\":{\"type\":\"string\",\"enum\":[\"A\",\"B\",\"C\",\"VVIP\"]},\"default\":"
		"[\"VVIP\"]},\"park_to\":{\"type\":\"string\",\"enum\":[\"pool\",\"manager\"],\"default\":"
		"\"pool\"},\"holding_limit\":{\"type\":\"integer\",\"default\":500},\"reclaim_after_days\":{"
		"\"type\":\"integer\",\"default\":90},\"reclaim_no_deal_days\":{\"type\":\"integer\","
		"\"default\":365},\"sleeping_after_days\":{\"type\":\"integer\",\"default\":90},"
		"\"intervention_touches\":{\"type\":\"integer\",\"default\":10},\"cadence_open_days\":{"
		"\"type\":\"integer\",\"default\":14},\"cadence_idle_days\":{\"type\":\"integer\","
		"\"default\":30}}},"
		"\"LeadRules\":{\"type\":\"object\",\"properties\":{\"rules\":{\"type\":\"array\",\"items\":{"
		"\"type\":\"object\",\"required\":[\"source\",\"assign\"],\"properties\":{\"source\":{"
		"\"type\":\"string\",\"description\":\"A lead source, or * for the rest\"},\"assign\":{"
		"\"type\":\"string\",\"enum\":[\"user\",\"team\",\"partners\"]},\"user_id\":{\"type\":"
		"\"integer\"},\"team_id\":{\"type\":\"integer\"}}}}}},"
		"\"ConvertInput\":{\"type\":\"object\",\"properties\":{\"create_opportunity\":{\"type\":"
		"\"object\",\"nullable\":true,\"properties\":{\"name\":{\"type\":\"string\"},\"amount\":{"
		"\"type\":\"integer\"},\"stage\":{\"type\":\"string\"}}}}},"
		"\"ConvertResult\":{\"type\":\"object\",\"properties\":{\"lead_id\":{\"type\":\"integer\"},"
		"\"account_id\":{\"type\":\"integer\"},\"contact_id\":{\"type\":\"integer\"},"
		"\"opportunity_id\":{\"type\":\"integer\",\"nullable\":true},\"linked\":{\"type\":"
		"\"boolean\",\"description\":\"true when an existing account was used\"}}}}";
	return json_loads(text, 0, NULL);
}

/* The analytics reports: every figure with its exact definition. */
static const char analytics_schemas[] =
	"{\"AnalyticsFunnel\":{\"type\":\"object\",\"properties\":{\"scope\":{\"type\":\"string\",\""
	"description\":\"The scope asked for: me, team:<id> or company.\"},\"from\":{\"type\":\"str"
	"ing\",\"description\":\"First day of the period (UTC+8).\"},\"to\":{\"type\":\"string\",\""
	"description\":\"Last day of the period, inclusive (UTC+8).\"},\"stages\":{\"type\":\"array"
	"\",\"items\":{\"type\":\"object\",\"properties\":{\"stage\":{\"type\":\"string\",\"descrip"
	"tion\":\"interest, brewing, design, compare, commit, use\"},\"count\":{\"type\":\"integer\""
	",\"description\":\"Open (not won, not lost), live opportunities owned by the scope's users"
	" now in this stage; not limited to the period.\"},\"amount\":{\"type\":\"integer\",\"descr"
	"iption\":\"Sum of their amounts (minor units).\"},\"weighted_amount\":{\"type\":\"integer\""
	",\"description\":\"Sum over them of amount x the stage's win rate / 100, each rounded half"
	" up to the unit.\"}}},\"description\":\"One row per open stage, in funnel order.\"},\"open"
	"\":{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\",\"description\":\""
	"Sum of stages[].count.\"},\"amount\":{\"type\":\"integer\",\"description\":\"Sum of stages"
	"[].amount.\"},\"weighted_amount\":{\"type\":\"integer\",\"description\":\"Sum of stages[]."
	"weighted_amount.\"}}},\"won\":{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"i"
	"nteger\",\"description\":\"Opportunities now won whose last move to won happened in the pe"
	"riod.\"},\"amount\":{\"type\":\"integer\",\"description\":\"Their amounts summed.\"}}},\"l"
	"ost\":{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\",\"description\""
	":\"Opportunities now lost whose last move to lost happened in the period.\"},\"amount\":{\""
	"type\":\"integer\",\"description\":\"Their amounts summed.\"}}},\"win_rate\":{\"type\":\"n"
	"umber\",\"nullable\":true,\"description\":\"won.count / (won.count + lost.count), 4 decima"
	"ls; null when both are 0.\"},\"conversion\":{\"type\":\"array\",\"items\":{\"type\":\"obje"
	"ct\",\"properties\":{\"from\":{\"type\":\"string\",\"description\":\"Stage N.\"},\"to\":{\""
	"type\":\"string\",\"description\":\"Stage N+1 (won after use).\"},\"reached_from\":{\"type"
	"\":\"integer\",\"description\":\"Opportunities created in the period whose furthest stage "
	"in the stage history is N or later (lost does not count as a stage reached).\"},\"reached_"
	"to\":{\"type\":\"integer\",\"description\":\"Those of them whose furthest stage is N+1 or "
	"later.\"},\"rate\":{\"type\":\"number\",\"nullable\":true,\"description\":\"reached_to / r"
	"eached_from, 4 decimals; null when reached_from is 0.\"}}},\"description\":\"Stage-to-stag"
	"e conversion over the cohort created in the period.\"},\"avg_days_in_stage\":{\"type\":\"a"
	"rray\",\"items\":{\"type\":\"object\",\"properties\":{\"stage\":{\"type\":\"string\",\"des"
	"cription\":\"An open stage.\"},\"stays\":{\"type\":\"integer\",\"description\":\"Stays in "
	"the stage that ended (the next stage change) within the period.\"},\"avg_days\":{\"type\":"
	"\"number\",\"nullable\":true,\"description\":\"Mean length of those stays in days, 2 decim"
	"als; null when none.\"}}},\"description\":\"From the stage history.\"},\"avg_cycle_days\":"
	"{\"type\":\"number\",\"nullable\":true,\"description\":\"Mean days from creation to the la"
	"st move to won, over opportunities won in the period; 2 decimals; null when none.\"}}},\"A"
	"nalyticsForecast\":{\"type\":\"object\",\"properties\":{\"scope\":{\"type\":\"string\",\"d"
	"escription\":\"The scope asked for: me, team:<id> or company.\"},\"from\":{\"type\":\"stri"
	"ng\",\"description\":\"First day of the period (UTC+8).\"},\"to\":{\"type\":\"string\",\"d"
	"escription\":\"Last day of the period, inclusive (UTC+8).\"},\"by_close_month\":{\"type\":"
	"\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"month\":{\"type\":\"string\",\""
	"description\":\"YYYY-MM of expected_close_on.\"},\"count\":{\"type\":\"integer\",\"descrip"
	"tion\":\"Open opportunities with expected_close_on in the month and in the period.\"},\"am"
	"ount\":{\"type\":\"integer\",\"description\":\"Unweighted amount.\"},\"weighted_amount\":{"
	"\"type\":\"integer\",\"description\":\"Weighted as in the funnel.\"}}},\"description\":\"O"
	"pen pipeline by expected close month.\"},\"won_by_month\":{\"type\":\"array\",\"items\":{\""
	"type\":\"object\",\"properties\":{\"month\":{\"type\":\"string\",\"description\":\"YYYY-MM"
	" (UTC+8) of the move to won.\"},\"count\":{\"type\":\"integer\",\"description\":\"Won in t"
	"hat month, within the period.\"},\"amount\":{\"type\":\"integer\",\"description\":\"Their "
	"amounts.\"}}},\"description\":\"Won by month.\"},\"quotas\":{\"type\":\"array\",\"items\":"
	"{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\",\"description\":\"Quota "
	"id.\"},\"user_id\":{\"type\":\"integer\",\"nullable\":true},\"team_id\":{\"type\":\"intege"
	"r\",\"nullable\":true},\"period\":{\"type\":\"string\",\"description\":\"2026-Q4 or 2026-1"
	"1.\"},\"amount\":{\"type\":\"integer\",\"description\":\"The quota.\"},\"won\":{\"type\":\""
	"integer\",\"description\":\"Won amount in the quota's own period by its user, or by the us"
	"ers of its team and sub-teams.\"},\"attainment\":{\"type\":\"number\",\"nullable\":true,\""
	"description\":\"won / amount, 4 decimals; null when amount is 0.\"}}},\"description\":\"Qu"
	"otas of the scope's users and teams whose period overlaps the requested period.\"}}},\"Ana"
	"lyticsActivity\":{\"type\":\"object\",\"properties\":{\"scope\":{\"type\":\"string\",\"des"
	"cription\":\"The scope asked for: me, team:<id> or company.\"},\"from\":{\"type\":\"string"
	"\",\"description\":\"First day of the period (UTC+8).\"},\"to\":{\"type\":\"string\",\"des"
	"cription\":\"Last day of the period, inclusive (UTC+8).\"},\"touches_per_rep_week\":{\"typ"
	"e\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"user_id\":{\"type\":\"integ"
	"er\",\"description\":\"The user who logged the activities (reps, and managers or admins who log follow-ups too).\"},\"week\":{\"type\":\"string\""
	",\"description\":\"ISO week of occurred_at in UTC+8, e.g. 2026-W47.\"},\"touches\":{\"type"
	"\":\"integer\",\"description\":\"Effective activities logged by the user in that week, wit"
	"hin the period.\"}}},\"description\":\"Only weeks with touches appear.\"},\"activities\":{"
	"\"type\":\"integer\",\"description\":\"All live activities logged by the scope's users in "
	"the period.\"},\"effective\":{\"type\":\"integer\",\"description\":\"Of them, effective on"
	"es (touches).\"},\"effective_share\":{\"type\":\"number\",\"nullable\":true,\"description\""
	":\"effective / activities, 4 decimals; null when no activity.\"},\"accounts_touched\":{\"t"
	"ype\":\"integer\",\"description\":\"Distinct accounts with an effective activity by the sc"
	"ope's users in the period.\"},\"by_channel\":{\"type\":\"array\",\"items\":{\"type\":\"obj"
	"ect\",\"properties\":{\"channel\":{\"type\":\"string\",\"description\":\"Channel.\"},\"tou"
	"ches\":{\"type\":\"integer\",\"description\":\"Effective activities of that channel in the"
	" period.\"}}},\"description\":\"Touches by channel.\"},\"sleeping_accounts\":{\"type\":\"i"
	"nteger\",\"description\":\"Accounts owned by the scope's users whose last effective follow"
	"-up (or creation, when none) is more than sleeping_after_days before today.\"},\"intervent"
	"ion\":{\"type\":\"integer\",\"description\":\"Accounts owned by the scope's users with at "
	"least intervention_touches effective touches and no won opportunity (the intervention list"
	"'s size).\"}}},\"AnalyticsPool\":{\"type\":\"object\",\"properties\":{\"scope\":{\"type\":"
	"\"string\",\"description\":\"The scope asked for: me, team:<id> or company.\"},\"from\":{\""
	"type\":\"string\",\"description\":\"First day of the period (UTC+8).\"},\"to\":{\"type\":\""
	"string\",\"description\":\"Last day of the period, inclusive (UTC+8).\"},\"pool_size\":{\""
	"type\":\"integer\",\"description\":\"Live accounts without an owner now (the whole pool).\""
	"},\"inflow\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"reason\""
	":{\"type\":\"string\",\"description\":\"parked, reclaimed, converted (by a partner).\"},\""
	"n\":{\"type\":\"integer\",\"description\":\"Owner changes into the pool in the period, fro"
	"m the scope's users (company: from anyone).\"}}},\"description\":\"Into the pool.\"},\"out"
	"flow\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"reason\":{\"ty"
	"pe\":\"string\",\"description\":\"claimed, assigned.\"},\"n\":{\"type\":\"integer\",\"desc"
	"ription\":\"Owner changes out of the pool in the period, to the scope's users.\"}}},\"desc"
	"ription\":\"Out of the pool.\"},\"inflow_total\":{\"type\":\"integer\",\"description\":\"S"
	"um of inflow.\"},\"outflow_total\":{\"type\":\"integer\",\"description\":\"Sum of outflow."
	"\"}}},\"AnalyticsSegments\":{\"type\":\"object\",\"properties\":{\"scope\":{\"type\":\"str"
	"ing\",\"description\":\"The scope asked for: me, team:<id> or company.\"},\"from\":{\"type"
	"\":\"string\",\"description\":\"First day of the period (UTC+8).\"},\"to\":{\"type\":\"str"
	"ing\",\"description\":\"Last day of the period, inclusive (UTC+8).\"},\"segments\":{\"type"
	"\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"segment\":{\"type\":\"string"
	"\",\"description\":\"habitual (2+ live orders, the first more than 180 days ago), beginner"
	" (one order, or the first within 180 days), prospect (no order).\"},\"accounts\":{\"type\""
	":\"integer\",\"description\":\"Live accounts owned by the scope's users in the segment (se"
	"gment as of today).\"},\"account_share\":{\"type\":\"number\",\"nullable\":true,\"descript"
	"ion\":\"accounts / all of them, 4 decimals.\"},\"revenue\":{\"type\":\"integer\",\"descrip"
	"tion\":\"Amount of their orders with ordered_on in the period.\"},\"revenue_share\":{\"typ"
	"e\":\"number\",\"nullable\":true,\"description\":\"revenue / the total, 4 decimals; null w"
	"hen 0.\"},\"touches\":{\"type\":\"integer\",\"description\":\"Effective activities on thei"
	"r accounts in the period, by anyone.\"},\"touch_share\":{\"type\":\"number\",\"nullable\":"
	"true,\"description\":\"touches / the total, 4 decimals; null when 0.\"}}},\"description\":"
	"\"One row per segment.\"}}},\"AnalyticsReps\":{\"type\":\"object\",\"properties\":{\"scope"
	"\":{\"type\":\"string\",\"description\":\"The scope asked for: me, team:<id> or company.\""
	"},\"from\":{\"type\":\"string\",\"description\":\"First day of the period (UTC+8).\"},\"to"
	"\":{\"type\":\"string\",\"description\":\"Last day of the period, inclusive (UTC+8).\"},\""
	"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"user_id\":{\""
	"type\":\"integer\",\"description\":\"The rep (role rep, live, in the scope).\"},\"username"
	"\":{\"type\":\"string\",\"description\":\"\"},\"display_name\":{\"type\":\"string\",\"null"
	"able\":true},\"hired_on\":{\"type\":\"string\",\"nullable\":true},\"accounts_owned\":{\"ty"
	"pe\":\"integer\",\"description\":\"Live accounts the rep owns now.\"},\"touches\":{\"type\""
	":\"integer\",\"description\":\"Effective activities the rep logged in the period.\"},\"new"
	"_accounts_touched\":{\"type\":\"integer\",\"description\":\"Accounts whose first effective"
	" activity by the rep falls in the period.\"},\"open_pipeline\":{\"type\":\"integer\",\"des"
	"cription\":\"Sum of amounts of the rep's open opportunities now.\"},\"weighted_pipeline\":"
	"{\"type\":\"integer\",\"description\":\"Their weighted amounts (as in the funnel).\"},\"wo"
	"n_count\":{\"type\":\"integer\",\"description\":\"The rep's opportunities won in the perio"
	"d.\"},\"won_amount\":{\"type\":\"integer\",\"description\":\"Their amounts.\"},\"lost_coun"
	"t\":{\"type\":\"integer\",\"description\":\"The rep's opportunities lost in the period.\"}"
	",\"win_rate\":{\"type\":\"number\",\"nullable\":true,\"description\":\"won_count / (won_co"
	"unt + lost_count), 4 decimals; null when none closed.\"},\"quota\":{\"type\":\"integer\",\""
	"nullable\":true,\"description\":\"Sum of the rep's quotas whose period overlaps the reques"
	"ted period; null when none.\"},\"quota_attainment\":{\"type\":\"number\",\"nullable\":true"
	",\"description\":\"won_amount / quota, 4 decimals; null without a quota.\"},\"ramp_days\":"
	"{\"type\":\"integer\",\"nullable\":true,\"description\":\"Days from hired_on to the rep's "
	"first move of an opportunity to won (ever); null if never won or no hired_on.\"}}},\"descr"
	"iption\":\"One row per rep.\"}}}}";

static json_t *param(const char *name, const char *in, const char *desc, json_t *schema)
{
	return json_pack("{s:s,s:s,s:s,s:b,s:o}", "name", name, "in", in, "description", desc,
			 "required", !strcmp(in, "path"), "schema",
			 schema ? schema : json_pack("{s:s}", "type", "string"));
}

static void list_params(json_t *ps, const struct kind *k)
{
	json_t *sorts = json_array();
	json_array_append_new(ps, param("limit", "query", "Page size, 1-500 (default 50).",
					 json_pack("{s:s,s:i,s:i}", "type", "integer", "minimum", 1,
						   "maximum", 500)));
	json_array_append_new(ps, param("cursor", "query", "The `next` of the previous page.", NULL));
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (f->flags & FF_SORT) {
			char *d = xasprintf("-%s", f->name);
			json_array_append_new(sorts, json_string(f->name));
			json_array_append_new(sorts, json_string(d));
			free(d);
		}
		if (f->flags & FF_FILTER) {
			char *d = xasprintf("Only records whose %s equals this (`null` for none).", f->name);
			json_t *s = field_schema(f);
			json_object_del(s, "readOnly");
			json_object_del(s, "default");
			json_array_append_new(ps, param(f->name, "query", d, s));
			free(d);
		}
	}
	json_array_append_new(ps, param("sort", "query", "Field to sort by, `-` for descending; "
					 "ties by id.", json_pack("{s:s,s:o}", "type", "string", "enum", sorts)));
	if (k->flags & KF_NAME_KEY)
		json_array_append_new(ps, param("name", "query", "Substring of the name, case- and "
						 "width-insensitive (Chinese works).", NULL));
	json_array_append_new(ps, param("updated_since", "query", "Only records changed at or "
					 "after this RFC 3339 time.", NULL));
	json_array_append_new(ps, param("archived", "query", "true: archived records only (admins).",
					 json_pack("{s:s}", "type", "boolean")));
}

static json_t *content(json_t *schema)
{
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *operation(const struct route *r)
{
	json_t *op = json_pack("{s:s,s:[s]}", "summary", r->summary ? r->summary : "", "tags",
			       r->tag ? r->tag : "system");
	json_t *ps = json_array();
	for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *close = strchr(p, '}');
		char *name = xstrndup(p + 1, (size_t)(close - p - 1));
		json_array_append_new(ps, !strcmp(name, "key") ?
			param(name, "path", "Key (a word).", NULL) :
			param(name, "path", "Record id.",
			      json_pack("{s:s,s:i}", "type", "integer", "minimum", 1)));
		free(name);
	}
	if ((r->flags & ROUTE_LIST) && r->data)
		list_params(ps, r->data);
	for (int i = 0; r->query && r->query[i]; i++) {
		const char *colon = strchr(r->query[i], ':');
		char *name = xstrndup(r->query[i], (size_t)(colon - r->query[i]));
		json_array_append_new(ps, param(name, "query", colon + 1, NULL));
		free(name);
	}
	if (!strcmp(r->method, "PATCH"))
		json_array_append_new(ps, param("If-Match", "header", "The version you last read; "
						 "412 when the record has changed since.", NULL));
	json_object_set_new(op, "parameters", ps);
	if (r->req_schema)
		json_object_set_new(op, "requestBody",
				    json_pack("{s:b,s:o}", "required", 1, "content",
					      content(ref(r->req_schema))));
	json_t *ok;
	if (r->flags & ROUTE_LIST)
		ok = json_pack("{s:s,s:[s,s],s:{s:{s:s,s:o},s:{s:s,s:b}}}", "type", "object",
			       "required", "items", "next", "properties", "items", "type", "array",
			       "items", ref(r->resp_schema), "next", "type", "string", "nullable", 1);
	else if (r->resp_schema)
		ok = ref(r->resp_schema);
	else
		ok = json_object();
	json_t *resp = json_object();
	json_object_set_new(resp, r->created ? "201" : "200",
			    json_pack("{s:s,s:o}", "description", "Success", "content", content(ok)));
	json_object_set_new(resp, "default", json_pack("{s:s,s:o}", "description",
		"Error (see docs/API.md for the status of each code)", "content",
		content(ref("Error"))));
	json_object_set_new(op, "responses", resp);
	if (r->flags & ROUTE_PUBLIC)
		json_object_set_new(op, "security", json_array());
	return op;
}

static char *lower(const char *s)
{
	char *o = xstrdup(s);
	for (char *p = o; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return o;
}

json_t *api_openapi(const struct route *routes, size_t n)
{
	json_t *paths = json_object(), *schemas = fixed_schemas();
	for (int i = 0; model_kinds[i]; i++)
		json_object_set_new(schemas, model_kinds[i]->title, kind_schema(model_kinds[i]));
	json_t *an = json_loads(analytics_schemas, 0, NULL);
	json_object_update(schemas, an);
	json_decref(an);
	for (size_t i = 0; i < n; i++) {
		const struct route *r = &routes[i];
		if (strncmp(r->pattern, "/api/v1/", 8))
			continue;   /* the document covers the API, not the web pages */
		json_t *item = json_object_get(paths, r->pattern + 7);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, r->pattern + 7, item);
		}
		char *m = lower(r->method);
		json_object_set_new(item, m, operation(r));
		free(m);
	}
	return json_pack(
		"{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:{s:o,s:{s:{s:s,s:s},s:{s:s,s:s,s:s}}},"
		"s:[{s:[]},{s:[]}]}",
		"openapi", "3.0.3", "info", "title", "dealmap API", "version", "1",
		"description", "The JSON API of dealmap, a CRM for big B2B orders. Conventions: "
		"docs/API.md.",
		"servers", "url", "/api/v1",
		"paths", paths,
		"components", "schemas", schemas, "securitySchemes",
		"bearer", "type", "http", "scheme", "bearer",
		"cookie", "type", "apiKey", "in", "cookie", "name", "dm_session",
		"security", "bearer", "cookie");
}
