<?php

declare(strict_types=1);

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;

// The failed-publish store, with the columns (and the migration's name) of the
// pure-PHP package's: an application that ran that package's migration keeps
// its table and its rows.
return new class extends Migration
{
    public function up(): void
    {
        $failed = app(MqttBroadcastConfig::class)->failedJobs;
        $schema = Schema::connection($failed->connection);
        if ($schema->hasTable($failed->table)) {
            return;
        }
        $schema->create($failed->table, function (Blueprint $table) {
            $table->id();
            $table->uuid('external_id')->unique();
            $table->string('broker')->default('default')->index();
            $table->string('topic', 1024);
            $table->longText('message')->nullable();
            $table->tinyInteger('qos')->default(0);
            $table->boolean('retain')->default(false);
            $table->text('exception');
            $table->timestamp('failed_at');
            $table->timestamp('retried_at')->nullable();
            $table->unsignedInteger('retry_count')->default(0);
            $table->timestamps();
        });
    }

    public function down(): void
    {
        $failed = app(MqttBroadcastConfig::class)->failedJobs;
        Schema::connection($failed->connection)->dropIfExists($failed->table);
    }
};
