CREATE TABLE "provider_drift" (
	"provider" text NOT NULL,
	"e164" text NOT NULL,
	"kind" text NOT NULL,
	"phone_number_id" text,
	"team_id" text,
	"detail" text,
	"detected_at" bigint NOT NULL,
	CONSTRAINT "provider_drift_provider_e164_kind_pk" PRIMARY KEY("provider","e164","kind")
);
--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD COLUMN "provider" text DEFAULT 'sim' NOT NULL;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD COLUMN "provider_number_id" text;--> statement-breakpoint
ALTER TABLE "phone_numbers" ADD COLUMN "imported" boolean DEFAULT false NOT NULL;