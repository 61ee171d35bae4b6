<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Logging;

use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Support\Carbon;
use Illuminate\Support\Str;
use MqttBroadcast\Laravel\Config\LogsConfig;
use MqttBroadcast\Laravel\Models\MqttLogger;

/**
 * With logs.enable, keeps the messages received and published in this process
 * and writes them to the log table in batches: one INSERT per flush(), never a
 * database round trip per message. The daemon flushes between two loop() calls
 * (at least every second), other processes when a batch is full, after each
 * queue job and when the application terminates.
 */
final class MessageLog
{
    public const BATCH_SIZE = 100;

    /** @var list<array<string, string>> rows waiting for flush() */
    private array $pending = [];

    public function __construct(
        private readonly LogsConfig $config,
        private readonly ExceptionHandler $exceptions,
    ) {
    }

    public function pending(): int
    {
        return count($this->pending);
    }

    /**
     * Writes what is pending in one INSERT. A failing INSERT drops the batch and
     * is reported to the exception handler: logging never fails a publish or
     * stops the daemon.
     */
    public function flush(): void
    {
        if ($this->pending === []) {
            return;
        }
        $rows = $this->pending;
        $this->pending = [];
        try {
            MqttLogger::query()->insert($rows);
        } catch (\Throwable $e) {
            $this->exceptions->report($e);
        }
    }

    /** Keeps a received or published message for the next flush(); does nothing without logs.enable. */
    public function record(string $broker, string $topic, string $payload): void
    {
        if (!$this->config->enabled) {
            return;
        }
        $now = Carbon::now()->toDateTimeString();
        $this->pending[] = [
            'external_id' => (string) Str::uuid(),
            'broker' => $broker,
            'topic' => $topic,
            // A text column takes UTF-8 only: binary payloads are kept, base64-encoded.
            'message' => mb_check_encoding($payload, 'UTF-8') ? $payload : 'base64:' . base64_encode($payload),
            'created_at' => $now,
            'updated_at' => $now,
        ];
        if (count($this->pending) >= self::BATCH_SIZE) {
            $this->flush();
        }
    }
}
