<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Support\Facades\Event;
use Illuminate\Support\ServiceProvider;
use MqttBroadcast\Laravel\Events\MqttConnected;
use MqttBroadcast\Laravel\Events\MqttConnectionEvent;
use MqttBroadcast\Laravel\Events\MqttConnectionFailed;
use MqttBroadcast\Laravel\Events\MqttConnectionLost;
use MqttBroadcast\Laravel\Events\MqttMessageReceived;
use MqttBroadcast\Laravel\Events\MqttReconnecting;
use MqttBroadcast\Laravel\Events\MqttMessageRejected;

/** The listeners of the test application, in the three ways applications register them; and of rejected messages and connection events. */
class AppServiceProvider extends ServiceProvider
{
    public function boot(): void
    {
        Event::listen(MqttMessageReceived::class, RecordMessage::class);
        Event::listen(MqttMessageReceived::class, RecordMessageQueued::class);
        Event::listen([MqttConnected::class, MqttConnectionLost::class, MqttReconnecting::class, MqttConnectionFailed::class], static function (MqttConnectionEvent $event): void {
            Routed::record('connection', ['type' => class_basename($event), 'broker' => $event->broker, 'reason' => $event->reason, 'attempt' => $event->attempt, 'at' => $event->at]);
        });
        Event::listen(static function (MqttMessageRejected $event): void {
            Routed::record('rejected', ['topic' => $event->topic, 'message' => $event->message, 'reason' => $event->reason, 'pattern' => $event->route]);
        });
        Event::listen(static function (MqttMessageReceived $event): void {
            Received::record('closure', $event);
            if (str_starts_with($event->message, 'boom')) {
                throw new \RuntimeException("listener exploded on {$event->topic}");
            }
        });
    }
}
