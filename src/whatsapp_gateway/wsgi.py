import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_gateway.settings")
application = get_wsgi_application()

# After Django is set up (the guard's modules read settings): each gunicorn worker imports this module before it
# accepts a connection, so its first sends do not pay for loading the content model.
from whatsapp_gateway.messaging.guard.content import warm_up  # noqa: E402

warm_up()
