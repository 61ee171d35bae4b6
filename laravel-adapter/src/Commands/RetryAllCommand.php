<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use MqttBroadcast\Laravel\Models\FailedMqttJob;
use MqttBroadcast\Laravel\MqttBroadcast;

class RetryAllCommand extends RetryCommand
{
    protected $signature = 'mqtt-broadcast:retry-all';

    protected $description = 'Publish every failed publish again';

    public function handle(MqttBroadcast $mqtt): int
    {
        $jobs = FailedMqttJob::query()->orderBy('failed_at')->orderBy('id')->get();
        if ($jobs->isEmpty()) {
            $this->status('info', 'No failed publishes.');
            return self::SUCCESS;
        }
        return $this->retry($jobs, $mqtt) ? self::SUCCESS : self::FAILURE;
    }
}
