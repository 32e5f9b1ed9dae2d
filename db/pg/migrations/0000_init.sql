CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text,
	"token_hash" text NOT NULL,
	"name" text,
	"prefix" text,
	"created_at" bigint NOT NULL,
	"last_used_at" bigint,
	"expires_at" bigint,
	"revoked_at" bigint,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "assistants" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"name" text NOT NULL,
	"media_url" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"phone_number_id" text,
	"e164" text,
	"assistant_id" text,
	"details" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "calls" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text,
	"direction" text NOT NULL,
	"carrier" text NOT NULL,
	"carrier_call_id" text,
	"from_number" text NOT NULL,
	"to_number" text NOT NULL,
	"phone_number_id" text,
	"assistant_id" text,
	"media_url" text,
	"status" text NOT NULL,
	"reason" text,
	"carrier_status" text,
	"carrier_seq" integer,
	"created_at" bigint NOT NULL,
	"answered_at" bigint,
	"ended_at" bigint,
	"duration_sec" integer,
	"end_reason" text,
	"media_claimed_at" bigint
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" integer NOT NULL,
	"body" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "idempotency_keys_scope_key_pk" PRIMARY KEY("scope","key")
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" text PRIMARY KEY NOT NULL,
	"started_at" bigint NOT NULL,
	"heartbeat_at" bigint NOT NULL,
	"acked_seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "meta" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "phone_numbers" (
	"id" text PRIMARY KEY NOT NULL,
	"e164" text NOT NULL,
	"team_id" text NOT NULL,
	"country_code" text NOT NULL,
	"number_type" text NOT NULL,
	"area_code" text NOT NULL,
	"city" text,
	"region" text,
	"monthly_cost" integer NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"assistant_id" text,
	"trial" boolean NOT NULL,
	"expires_at" bigint,
	"order_id" text,
	"failure_reason" text,
	"last_used_at" bigint,
	"created_at" bigint NOT NULL,
	"activated_at" bigint,
	"released_at" bigint,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routing_changes" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"e164" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sim_inventory" (
	"e164" text PRIMARY KEY NOT NULL,
	"country_code" text NOT NULL,
	"number_type" text NOT NULL,
	"area_code" text NOT NULL,
	"city" text,
	"region" text,
	"monthly_cost" integer NOT NULL,
	"currency" text NOT NULL,
	"order_id" text
);
--> statement-breakpoint
CREATE TABLE "sim_orders" (
	"id" text PRIMARY KEY NOT NULL,
	"e164" text NOT NULL,
	"status" text NOT NULL,
	"outcome" text NOT NULL,
	"ready_at" bigint NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "teams" (
	"id" text PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"plan" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "teams_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assistants" ADD CONSTRAINT "assistants_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD CONSTRAINT "phone_numbers_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD CONSTRAINT "phone_numbers_assistant_id_assistants_id_fk" FOREIGN KEY ("assistant_id") REFERENCES "public"."assistants"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_tokens_team_idx" ON "api_tokens" USING btree ("team_id","created_at");--> statement-breakpoint
CREATE INDEX "assistants_team_idx" ON "assistants" USING btree ("team_id","created_at");--> statement-breakpoint
CREATE INDEX "audit_team_idx" ON "audit_events" USING btree ("team_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "calls_carrier_call_uq" ON "calls" USING btree ("carrier","carrier_call_id");--> statement-breakpoint
CREATE INDEX "calls_team_idx" ON "calls" USING btree ("team_id","created_at","id");--> statement-breakpoint
CREATE INDEX "calls_created_idx" ON "calls" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "idempotency_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "phone_numbers_held_e164_uq" ON "phone_numbers" USING btree ("e164") WHERE status IN ('purchasing', 'active', 'suspended');--> statement-breakpoint
CREATE INDEX "phone_numbers_e164_idx" ON "phone_numbers" USING btree ("e164","created_at");--> statement-breakpoint
CREATE INDEX "phone_numbers_team_idx" ON "phone_numbers" USING btree ("team_id","status");--> statement-breakpoint
CREATE INDEX "phone_numbers_assistant_idx" ON "phone_numbers" USING btree ("assistant_id");--> statement-breakpoint
CREATE INDEX "phone_numbers_status_idx" ON "phone_numbers" USING btree ("status","expires_at");--> statement-breakpoint
CREATE INDEX "routing_changes_created_idx" ON "routing_changes" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "sim_inventory_area_idx" ON "sim_inventory" USING btree ("country_code","number_type","area_code","e164");--> statement-breakpoint
CREATE INDEX "sim_inventory_type_idx" ON "sim_inventory" USING btree ("country_code","number_type","e164");--> statement-breakpoint
CREATE INDEX "sim_orders_pending_idx" ON "sim_orders" USING btree ("status","ready_at");