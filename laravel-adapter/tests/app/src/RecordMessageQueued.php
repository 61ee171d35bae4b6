<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Contracts\Queue\ShouldQueue;
use MqttBroadcast\Laravel\Events\MqttMessageReceived;

/** A queued listener: the event goes through the queue (sync in the tests: serialized, then handled). */
class RecordMessageQueued implements ShouldQueue
{
    public function handle(MqttMessageReceived $event): void
    {
        Received::record('queued', $event);
    }
}
