<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Models\FailedMqttJob;

class FlushCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:flush';

    protected $description = 'Delete every failed publish from the store';

    public function handle(): int
    {
        $count = FailedMqttJob::query()->delete();
        $this->status('info', "Deleted $count failed publish(es).");
        return self::SUCCESS;
    }
}
