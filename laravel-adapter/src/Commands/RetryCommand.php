<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use Illuminate\Database\Eloquent\Collection;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Models\FailedMqttJob;
use MqttBroadcast\Laravel\MqttBroadcast;

/**
 * Publishes failed publishes again (publishSync: the broker has each when it
 * is reported done) and forgets those that went out; one that fails again
 * stays, with its new exception. Exit code 1 when any failed again.
 */
class RetryCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:retry {id* : IDs as mqtt-broadcast:failed lists them}';

    protected $description = 'Publish failed publishes again';

    public function handle(MqttBroadcast $mqtt): int
    {
        $ids = (array) $this->argument('id');
        $jobs = FailedMqttJob::query()->whereIn('external_id', $ids)->get();
        $missing = array_diff($ids, $jobs->pluck('external_id')->all());
        foreach ($missing as $id) {
            $this->status('error', "No failed publish with ID $id.");
        }
        return $this->retry($jobs, $mqtt) && $missing === [] ? self::SUCCESS : self::FAILURE;
    }

    /** @param Collection<int, FailedMqttJob> $jobs */
    protected function retry(Collection $jobs, MqttBroadcast $mqtt): bool
    {
        $ok = true;
        foreach ($jobs as $job) {
            try {
                $job->retry($mqtt);
                $this->status('info', "Published {$job->external_id} again ({$job->topic} on connection {$job->broker}).");
            } catch (\Throwable $e) {
                $ok = false;
                $this->status('error', "Publishing {$job->external_id} again failed, it stays in the store: " . $e->getMessage());
            }
        }
        return $ok;
    }
}
