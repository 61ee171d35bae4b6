<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Models\FailedMqttJob;

class FailedCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:failed';

    protected $description = 'List the publishes that failed for good (the failed-publish store)';

    public function handle(): int
    {
        $failed = FailedMqttJob::query()->orderBy('failed_at')->orderBy('id')->get();
        if ($failed->isEmpty()) {
            $this->status('info', 'No failed publishes.');
            return self::SUCCESS;
        }
        $this->table(
            ['ID', 'Connection', 'Topic', 'QoS', 'Failed at', 'Retries', 'Exception'],
            $failed->map(static fn (FailedMqttJob $job) => [
                $job->external_id,
                $job->broker,
                $job->topic,
                $job->qos,
                $job->failed_at->toDateTimeString(),
                $job->retry_count,
                mb_strimwidth(strtok($job->exception, "\n") ?: '', 0, 100, '...'),
            ])->all()
        );
        return self::SUCCESS;
    }
}
