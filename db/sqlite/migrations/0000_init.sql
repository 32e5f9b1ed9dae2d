CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`team_id` text,
	`token_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`team_id`) REFERENCES `teams`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_token_hash_unique` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `assistants` (
	`id` text PRIMARY KEY NOT NULL,
	`team_id` text NOT NULL,
	`name` text NOT NULL,
	`media_url` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`team_id`) REFERENCES `teams`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `assistants_team_idx` ON `assistants` (`team_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`id` text PRIMARY KEY NOT NULL,
	`team_id` text NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`phone_number_id` text,
	`e164` text,
	`assistant_id` text,
	`details` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_team_idx` ON `audit_events` (`team_id`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `calls` (
	`id` text PRIMARY KEY NOT NULL,
	`team_id` text,
	`direction` text NOT NULL,
	`carrier` text NOT NULL,
	`carrier_call_id` text,
	`from_number` text NOT NULL,
	`to_number` text NOT NULL,
	`phone_number_id` text,
	`assistant_id` text,
	`media_url` text,
	`status` text NOT NULL,
	`reason` text,
	`carrier_status` text,
	`carrier_seq` integer,
	`created_at` integer NOT NULL,
	`answered_at` integer,
	`ended_at` integer,
	`duration_sec` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `calls_carrier_call_uq` ON `calls` (`carrier`,`carrier_call_id`);--> statement-breakpoint
CREATE INDEX `calls_team_idx` ON `calls` (`team_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `calls_created_idx` ON `calls` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `calls_assistant_idx` ON `calls` (`assistant_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `calls_number_idx` ON `calls` (`phone_number_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer NOT NULL,
	`body` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`scope`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_created_idx` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `phone_numbers` (
	`id` text PRIMARY KEY NOT NULL,
	`e164` text NOT NULL,
	`team_id` text NOT NULL,
	`country_code` text NOT NULL,
	`number_type` text NOT NULL,
	`area_code` text NOT NULL,
	`city` text,
	`region` text,
	`monthly_cost` integer NOT NULL,
	`currency` text NOT NULL,
	`status` text NOT NULL,
	`assistant_id` text,
	`trial` integer NOT NULL,
	`expires_at` integer,
	`order_id` text,
	`failure_reason` text,
	`last_used_at` integer,
	`created_at` integer NOT NULL,
	`activated_at` integer,
	`released_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`team_id`) REFERENCES `teams`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`assistant_id`) REFERENCES `assistants`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `phone_numbers_held_e164_uq` ON `phone_numbers` (`e164`) WHERE status IN ('purchasing', 'active', 'suspended');--> statement-breakpoint
CREATE INDEX `phone_numbers_e164_idx` ON `phone_numbers` (`e164`,`created_at`);--> statement-breakpoint
CREATE INDEX `phone_numbers_team_idx` ON `phone_numbers` (`team_id`,`status`);--> statement-breakpoint
CREATE INDEX `phone_numbers_assistant_idx` ON `phone_numbers` (`assistant_id`);--> statement-breakpoint
CREATE INDEX `phone_numbers_status_idx` ON `phone_numbers` (`status`,`expires_at`);--> statement-breakpoint
CREATE TABLE `routing_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`e164` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `routing_changes_created_idx` ON `routing_changes` (`created_at`);--> statement-breakpoint
CREATE TABLE `sim_inventory` (
	`e164` text PRIMARY KEY NOT NULL,
	`country_code` text NOT NULL,
	`number_type` text NOT NULL,
	`area_code` text NOT NULL,
	`city` text,
	`region` text,
	`monthly_cost` integer NOT NULL,
	`currency` text NOT NULL,
	`order_id` text
);
--> statement-breakpoint
CREATE INDEX `sim_inventory_area_idx` ON `sim_inventory` (`country_code`,`number_type`,`area_code`,`e164`);--> statement-breakpoint
CREATE INDEX `sim_inventory_type_idx` ON `sim_inventory` (`country_code`,`number_type`,`e164`);--> statement-breakpoint
CREATE TABLE `sim_orders` (
	`id` text PRIMARY KEY NOT NULL,
	`e164` text NOT NULL,
	`status` text NOT NULL,
	`outcome` text NOT NULL,
	`ready_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sim_orders_pending_idx` ON `sim_orders` (`status`,`ready_at`);--> statement-breakpoint
CREATE TABLE `teams` (
	`id` text PRIMARY KEY NOT NULL,
	`slug` text NOT NULL,
	`name` text NOT NULL,
	`plan` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `teams_slug_unique` ON `teams` (`slug`);