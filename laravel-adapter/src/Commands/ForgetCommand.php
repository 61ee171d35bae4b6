<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Models\FailedMqttJob;

class ForgetCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:forget {id* : IDs as mqtt-broadcast:failed lists them}';

    protected $description = 'Delete failed publishes from the store';

    public function handle(): int
    {
        $status = self::SUCCESS;
        foreach ((array) $this->argument('id') as $id) {
            if (FailedMqttJob::query()->where('external_id', $id)->delete() === 0) {
                $this->status('error', "No failed publish with ID $id.");
                $status = self::FAILURE;
            } else {
                $this->status('info', "Deleted failed publish $id.");
            }
        }
        return $status;
    }
}
