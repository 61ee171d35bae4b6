<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Models;

use Illuminate\Database\Eloquent\Model;
use Illuminate\Support\Str;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Jobs\MqttMessageJob;
use MqttBroadcast\Laravel\MqttBroadcast;

/**
 * A publish that failed for good (MqttMessageJob::failed()), in the table of
 * the pure-PHP package of the same name (failed_jobs.table), so that rows it
 * recorded can be retried here too. `message` holds the payload JSON-encoded,
 * as that package stored it; a payload that is not UTF-8 as the JSON string
 * "base64:" and its base64.
 *
 * @property int $id
 * @property string $external_id
 * @property string $broker
 * @property string $topic
 * @property mixed $message
 * @property int $qos
 * @property bool $retain
 * @property string $exception
 * @property \Illuminate\Support\Carbon $failed_at
 * @property \Illuminate\Support\Carbon|null $retried_at
 * @property int $retry_count
 */
class FailedMqttJob extends Model
{
    protected $fillable = ['broker', 'topic', 'message', 'qos', 'retain', 'exception', 'failed_at', 'retried_at', 'retry_count'];

    /** A property rather than casts(): the method exists from Laravel 11 on only. */
    protected $casts = [
        'message' => 'json',
        'retain' => 'boolean',
        'qos' => 'integer',
        'retry_count' => 'integer',
        'failed_at' => 'datetime',
        'retried_at' => 'datetime',
    ];

    protected static function booted(): void
    {
        static::creating(static function (self $job): void {
            $job->external_id ??= (string) Str::uuid();
        });
    }

    /** @param ?\Throwable $exception null when the queue gives none */
    public static function record(MqttMessageJob $job, ?\Throwable $exception): self
    {
        $connection = app(MqttBroadcastConfig::class)->connections[$job->broker] ?? null;
        return static::query()->create([
            'broker' => $job->broker,
            'topic' => $job->topic,
            'message' => mb_check_encoding($job->message, 'UTF-8') ? $job->message : 'base64:' . base64_encode($job->message),
            'qos' => $job->qos ?? $connection?->qos ?? 0,
            'retain' => $job->retain ?? $connection?->retain ?? false,
            'exception' => (string) ($exception ?? 'The queue gave no exception.'),
            'failed_at' => now(),
        ]);
    }

    /** The bytes to publish again. */
    public function payload(): string
    {
        $message = $this->message;
        if (is_string($message) && str_starts_with($message, 'base64:')) {
            $decoded = base64_decode(substr($message, 7), true);
            return $decoded === false ? $message : $decoded;
        }
        return MqttBroadcast::payload($message);
    }

    /**
     * Publishes the message again, with publishSync() so that the broker has
     * it when this returns, and forgets the record. On failure the record
     * stays, with the new exception and one more retry counted.
     */
    public function retry(MqttBroadcast $mqtt): void
    {
        try {
            $mqtt->publishSync($this->topic, $this->payload(), $this->broker, $this->qos, $this->retain);
        } catch (\Throwable $e) {
            $this->forceFill(['exception' => (string) $e, 'retried_at' => now(), 'retry_count' => $this->retry_count + 1])->save();
            throw $e;
        }
        $this->delete();
    }

    public function getTable(): string
    {
        return app(MqttBroadcastConfig::class)->failedJobs->table;
    }

    public function getConnectionName(): ?string
    {
        return $this->connection ?? app(MqttBroadcastConfig::class)->failedJobs->connection;
    }

    public function getRouteKeyName(): string
    {
        return 'external_id';
    }
}
