ALTER TABLE `api_tokens` ADD `name` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `prefix` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `last_used_at` integer;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `revoked_at` integer;--> statement-breakpoint
CREATE INDEX `api_tokens_team_idx` ON `api_tokens` (`team_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `calls` ADD `media_claimed_at` integer;