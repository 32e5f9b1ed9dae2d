DROP INDEX `calls_assistant_idx`;--> statement-breakpoint
DROP INDEX `calls_number_idx`;