CREATE TABLE `provider_drift` (
	`provider` text NOT NULL,
	`e164` text NOT NULL,
	`kind` text NOT NULL,
	`phone_number_id` text,
	`team_id` text,
	`detail` text,
	`detected_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `e164`, `kind`)
);
--> statement-breakpoint
ALTER TABLE `phone_numbers` ADD `provider` text DEFAULT 'sim' NOT NULL;--> statement-breakpoint
ALTER TABLE `phone_numbers` ADD `provider_number_id` text;--> statement-breakpoint
ALTER TABLE `phone_numbers` ADD `imported` integer DEFAULT false NOT NULL;