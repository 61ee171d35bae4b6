<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Models;

use Illuminate\Database\Eloquent\Builder;
use Illuminate\Database\Eloquent\Model;
use Illuminate\Database\Eloquent\Prunable;
use Illuminate\Support\Str;
use MqttBroadcast\Laravel\Casts\MessagePayload;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;

/**
 * A logged message (logs.enable), in the table of logs.table on the database
 * connection of logs.connection. `message` reads as JSON where the payload is
 * JSON (see MessagePayload); the column holds the payload as it went over the
 * wire, and payloads that are not UTF-8 as "base64:" and their base64.
 *
 * Prunable: `php artisan model:prune --model="MqttBroadcast\Laravel\Models\MqttLogger"`
 * removes rows older than logs.prune_after_days.
 *
 * @property int $id
 * @property string $external_id
 * @property string $broker
 * @property string $topic
 * @property mixed $message
 */
class MqttLogger extends Model
{
    use Prunable;

    protected $fillable = ['broker', 'topic', 'message'];

    /** A property rather than casts(): the method exists from Laravel 11 on only. */
    protected $casts = ['message' => MessagePayload::class];

    protected static function booted(): void
    {
        static::creating(static function (self $log): void {
            $log->external_id ??= (string) Str::uuid();
        });
    }

    public function getTable(): string
    {
        return app(MqttBroadcastConfig::class)->logs->table;
    }

    public function getConnectionName(): ?string
    {
        return $this->connection ?? app(MqttBroadcastConfig::class)->logs->connection;
    }

    public function getRouteKeyName(): string
    {
        return 'external_id';
    }

    public function prunable(): Builder
    {
        return static::query()->where('created_at', '<', now()->subDays(app(MqttBroadcastConfig::class)->logs->pruneAfterDays));
    }
}
