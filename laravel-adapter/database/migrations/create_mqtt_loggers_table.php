<?php

declare(strict_types=1);

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;

// The table of the pure-PHP package of the same name, unchanged: an application
// that already has it keeps it and does not need this migration.
return new class extends Migration
{
    public function up(): void
    {
        $logs = app(MqttBroadcastConfig::class)->logs;
        Schema::connection($logs->connection)->create($logs->table, function (Blueprint $table) {
            $table->id();
            $table->uuid('external_id')->unique();
            $table->string('broker')->index();
            $table->string('topic', 1024)->nullable();
            $table->longText('message')->nullable();
            $table->timestamps();
            $table->index('created_at');
        });
    }

    public function down(): void
    {
        $logs = app(MqttBroadcastConfig::class)->logs;
        Schema::connection($logs->connection)->dropIfExists($logs->table);
    }
};
