<?php

namespace App\Providers;

use App\Listeners\HandleMqttMessage;
use enzolarosa\MqttBroadcast\Events\MqttMessageReceived;
use Illuminate\Foundation\Support\Providers\EventServiceProvider as ServiceProvider;
use Illuminate\Support\Facades\Event;

class EventServiceProvider extends ServiceProvider
{
    protected $listen = [
        MqttMessageReceived::class => [
            HandleMqttMessage::class,
        ],
    ];

    public function boot()
    {
        Event::listen(MqttMessageReceived::class, function ($event) {
            echo "Topic: {$event->topic}\n";
            echo "Message: {$event->message}\n";
            echo "Broker: {$event->broker}\n";

            // Your business logic here
            if ($event->topic === 'sensors/temperature') {
                $data = json_decode($event->message, true);
                // Store to database, trigger actions, etc.
            }
        });
    }
}
