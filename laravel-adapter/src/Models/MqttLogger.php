<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Models;

use Illuminate\Database\Eloquent\Model;
use Illuminate\Support\Str;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;

/**
 * A logged message (logs.enable), in the table of logs.table on the database
 * connection of logs.connection. `message` is the payload as it went over the
 * wire; payloads that are not UTF-8 are stored as "base64:" and their base64.
 *
 * @property int $id
 * @property string $external_id
 * @property string $broker
 * @property string $topic
 * @property string|null $message
 */
class MqttLogger extends Model
{
    protected $fillable = ['broker', 'topic', 'message'];

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
}
