<?php

declare(strict_types=1);

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;

// The message log table, with the columns of the pure-PHP package's. It is
// loaded from the package, and may also be published: a database that already
// has the table (from that package, or from an earlier copy of this migration)
// keeps it as it is.
return new class extends Migration
{
    public function up(): void
    {
        $logs = app(MqttBroadcastConfig::class)->logs;
        $schema = Schema::connection($logs->connection);
        if ($schema->hasTable($logs->table)) {
            return;
        }
        $schema->create($logs->table, function (Blueprint $table) {
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
