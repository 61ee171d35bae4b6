<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use MqttBroadcast\Laravel\Events\MqttMessageReceived;

/** A listener class. A message "slow:<ms>" keeps it busy that long, between a "started" and a "handled" record. */
class RecordMessage
{
    public function handle(MqttMessageReceived $event): void
    {
        if (preg_match('/^slow:(\d+)/', $event->message, $m)) {
            Received::record('class', $event, 'started');
            usleep((int) $m[1] * 1000);
        }
        Received::record('class', $event);
    }
}
