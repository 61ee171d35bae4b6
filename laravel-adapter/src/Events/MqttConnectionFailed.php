<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Events;

/**
 * A connection of the daemon failed for good (terminate_on_max_retries after
 * max_retries attempts); the daemon then stops with exit code 3.
 */
class MqttConnectionFailed extends MqttConnectionEvent
{
}
